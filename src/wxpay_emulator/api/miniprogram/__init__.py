"""Mini Program server API (api.weixin.qq.com): ``/cgi-bin/token``, ``/cgi-bin/stable_token``,
``/wxa/getpaidunionid``. Answers are ``{"errcode", "errmsg"}`` JSON with HTTP 200, as WeChat's."""
