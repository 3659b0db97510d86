from wxpay_emulator.cli import main

main()
