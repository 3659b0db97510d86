"""The business shared by every API family: merchants, orders, payments, notifications.

It never sees a wire name (``total_fee``, ``amount.total``, ``totalFee``): the families translate.
"""
