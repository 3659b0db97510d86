"""Paste-ready configuration of each SDK for one merchant, pointed at this emulator.

How each SDK is pointed here is docs/sdks.md. The wechatpayv3 and wechatpy
snippets are what the end-to-end tests do; the Node, Go and Java ones follow each SDK's documented
options (no Node/Go/Java toolchain runs in this project's tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wxpay_emulator.domain.models import KeyMode, Merchant
from wxpay_emulator.material import wechatpayv3_snippet


@dataclass(frozen=True)
class Snippet:
    sdk: str
    language: str
    code: str


def _wechatpy(m: Merchant, folder: Path, base: str) -> str:
    return (
        "from wechatpy.pay import WeChatPay\n"
        "client = WeChatPay(\n"
        f"    appid='{m.appid}',\n"
        f"    api_key='{m.api_key}',\n"
        f"    mch_id='{m.mchid}',\n"
        f"    mch_cert='{folder / 'apiclient_cert.pem'}',  # /secapi/ calls (refund)\n"
        f"    mch_key='{folder / 'apiclient_key.pem'}',\n"
        ")\n"
        f"client.API_BASE_URL = '{base}/'  # the trailing slash matters\n"
        "# Always pass client_ip to client.order.create(...): otherwise wechatpy looks up WeChat's host.\n"
    )


def _platform(m: Merchant, folder: Path) -> tuple[str, str]:
    """(the serial or PUB_KEY_ID the platform signs with, the file holding its public key)."""
    if m.key_mode is KeyMode.PUBKEY:
        return m.pub_key_id, str(folder / "pub_key.pem")
    return m.platform_serial.upper(), str(folder / "wechatpay_cert.pem")


def _axios(m: Merchant, folder: Path, base: str) -> str:
    serial, verifier = _platform(m, folder)
    return (
        "const { readFileSync } = require('fs');\n"
        "const { Wechatpay, Rsa } = require('wechatpay-axios-plugin');\n"
        "const wxpay = new Wechatpay({\n"
        f"  mchid: '{m.mchid}',\n"
        f"  serial: '{m.serial_no}',\n"
        f"  privateKey: readFileSync('{folder / 'apiclient_key.pem'}'),\n"
        f"  certs: {{ '{serial}': Rsa.from(readFileSync('{verifier}'), Rsa.KEY_TYPE_PUBLIC) }},\n"
        f"  secret: '{m.api_key}',  // the APIv2 key (v2 XML calls)\n"
        f"  baseURL: '{base}/',\n"
        "});\n"
        f"// Decrypt notifications with the APIv3 key '{m.apiv3_key}' (Aes.AesGcm.decrypt).\n"
    )


# wechatpay-node-v3's verifySign looks the serial of Wechatpay-Serial up among the platform certificates
# it keeps (WxPay.certificates); a public key mode merchant's notifications carry PUB_KEY_ID_..., so the
# public key is registered under that id (docs/sdks.md, checked with wechatpay-node-v3 2.2.1).
def _node_v3_pubkey(m: Merchant, folder: Path) -> str:
    if m.key_mode is not KeyMode.PUBKEY:
        return ""
    return (
        "// Public key mode: notifications carry Wechatpay-Serial PUB_KEY_ID_..., so that verifySign\n"
        "// finds it, register the WeChat Pay public key under that id.\n"
        f"WxPay.certificates['{m.pub_key_id}'] = readFileSync('{folder / 'pub_key.pem'}', 'utf8');\n"
    )


def _node_v3(m: Merchant, folder: Path, base: str) -> str:
    return (
        "const { readFileSync } = require('fs');\n"
        "const superagent = require('superagent');\n"
        "const WxPay = require('wechatpay-node-v3');\n"
        "const pay = new WxPay({\n"
        f"  appid: '{m.appid}',\n"
        f"  mchid: '{m.mchid}',\n"
        f"  publicKey: readFileSync('{folder / 'apiclient_cert.pem'}'),\n"
        f"  privateKey: readFileSync('{folder / 'apiclient_key.pem'}'),\n"
        f"  key: '{m.apiv3_key}',\n"
        "});\n"
        "// Its URLs are hard-coded: a request class (IPayRequest) that rewrites the origin.\n"
        f"const EMULATOR = '{base}';\n"
        "const here = (url) => url.replace('https://api.mch.weixin.qq.com', EMULATOR);\n"
        "const answer = (r) => ({ status: r.status, data: r.body });\n"
        "const failed = (e) => ({ status: e.status, error: e.response && e.response.text });\n"
        "pay.createHttp({\n"
        "  post: (url, body, headers) => superagent.post(here(url)).send(body).set(headers)"
        ".then(answer, failed),\n"
        "  get: (url, headers) => superagent.get(here(url)).set(headers).then(answer, failed),\n"
        "  upload: (url, body, headers) => superagent.post(here(url)).send(body).set(headers)"
        ".then(answer, failed),\n"
        "});\n" + _node_v3_pubkey(m, folder)
    )


def _go(m: Merchant, folder: Path, base: str) -> str:
    if m.key_mode is KeyMode.PUBKEY:
        verifier = (
            f'\tpub, _ := utils.LoadPublicKeyWithPath("{folder / "pub_key.pem"}")\n'
            "\tclient, err := core.NewClient(ctx,\n"
            f'\t\toption.WithWechatPayPublicKeyAuthCipher("{m.mchid}", "{m.serial_no}", key, '
            f'"{m.pub_key_id}", pub),\n'
        )
    else:
        verifier = (
            "\t// certificate mode: /v3/certificates is downloaded from the emulator through the transport\n"
            "\tclient, err := core.NewClient(ctx,\n"
            f'\t\toption.WithWechatPayAutoAuthCipher("{m.mchid}", "{m.serial_no}", key, "{m.apiv3_key}"),\n'
        )
    return (
        "// github.com/wechatpay-apiv3/wechatpay-go: the API host is a constant, so a transport that\n"
        "// sends every request to the emulator instead.\n"
        "type toEmulator struct{}\n\n"
        "func (toEmulator) RoundTrip(r *http.Request) (*http.Response, error) {\n"
        f'\tu, _ := url.Parse("{base}")\n'
        "\tr = r.Clone(r.Context())\n"
        "\tr.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, u.Host\n"
        "\treturn http.DefaultTransport.RoundTrip(r)\n"
        "}\n\n"
        "func newClient(ctx context.Context) (*core.Client, error) {\n"
        f'\tkey, _ := utils.LoadPrivateKeyWithPath("{folder / "apiclient_key.pem"}")\n'
        f"{verifier}"
        "\t\toption.WithHTTPClient(&http.Client{Transport: toEmulator{}}),\n"
        "\t)\n"
        "\treturn client, err\n"
        "}\n"
    )


def _java(m: Merchant, folder: Path, base: str) -> str:
    if m.key_mode is KeyMode.PUBKEY:
        config = (
            "Config config = new RSAPublicKeyConfig.Builder()\n"
            f'    .merchantId("{m.mchid}")\n'
            f'    .privateKeyFromPath("{folder / "apiclient_key.pem"}")\n'
            f'    .merchantSerialNumber("{m.serial_no}")\n'
            f'    .publicKeyFromPath("{folder / "pub_key.pem"}")\n'
            f'    .publicKeyId("{m.pub_key_id}")\n'
            f'    .apiV3Key("{m.apiv3_key}")\n'
            "    .build();\n"
        )
    else:
        config = (
            "// RSAAutoCertificateConfig would download certificates from the real host: give them here.\n"
            "Config config = new RSAConfig.Builder()\n"
            f'    .merchantId("{m.mchid}")\n'
            f'    .privateKeyFromPath("{folder / "apiclient_key.pem"}")\n'
            f'    .merchantSerialNumber("{m.serial_no}")\n'
            f'    .wechatPayCertificatesFromPath("{folder / "wechatpay_cert.pem"}")\n'
            "    .build();\n"
        )
    return (
        "// com.github.wechatpay-apiv3:wechatpay-java: an OkHttp interceptor sends calls to the emulator.\n"
        f'HttpUrl emulator = HttpUrl.get("{base}");\n'
        "OkHttpClient okHttp = new OkHttpClient.Builder()\n"
        "    .addInterceptor(chain -> chain.proceed(chain.request().newBuilder()\n"
        "        .url(chain.request().url().newBuilder()\n"
        "            .scheme(emulator.scheme()).host(emulator.host()).port(emulator.port()).build())\n"
        "        .build()))\n"
        "    .build();\n"
        f"{config}"
        "HttpClient httpClient =\n"
        "    new DefaultHttpClientBuilder().config(config).okHttpClient(okHttp).build();\n"
        "JsapiService service = new JsapiService.Builder().httpClient(httpClient).build();\n"
    )


def snippets(m: Merchant, folder: Path, base: str) -> list[Snippet]:
    return [
        Snippet("wechatpayv3", "python", wechatpayv3_snippet(m, folder, base)),
        Snippet("wechatpy (APIv2)", "python", _wechatpy(m, folder, base)),
        Snippet("wechatpay-axios-plugin", "javascript", _axios(m, folder, base)),
        Snippet("wechatpay-node-v3", "javascript", _node_v3(m, folder, base)),
        Snippet("wechatpay-go", "go", _go(m, folder, base)),
        Snippet("wechatpay-java", "java", _java(m, folder, base)),
    ]
