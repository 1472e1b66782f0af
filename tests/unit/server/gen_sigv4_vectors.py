#!/usr/bin/python3
"""Generates tests/unit/server/sigv4_vectors.h: reference SigV4 signatures made by botocore.

Run once by hand with Debian's python3-botocore (apt-get install python3-botocore), and the
output committed; the unit test (test_sigv4.c) needs no Python at run time:

    /usr/bin/python3 tests/unit/server/gen_sigv4_vectors.py > tests/unit/server/sigv4_vectors.h

Most vectors come from botocore's real S3 client (its own key and query encoding, its own
choice of signed headers): a 'before-send' hook captures the signed request and answers it
without any network. A few come from botocore's S3SigV4Auth on a hand-made request, for what
the client never sends (headers with runs of blanks, odd header case). The clock is frozen.
"""
import datetime
import hashlib
import re
import sys
import types
from urllib.parse import parse_qsl, urlsplit

import botocore
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.session
from botocore.config import Config

FROZEN = datetime.datetime(2026, 12, 1, 21, 8, 47)


class _Frozen(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return FROZEN


botocore.auth.datetime = types.SimpleNamespace(datetime=_Frozen)

SWIFT = dict(endpoint="http://127.0.0.1:8080", region="us-east-1", ak="test:tester",
             sk="testing", style="path")
AWS = dict(endpoint=None, region="eu-west-3", ak="AKIAIOSFODNN7EXAMPLE",
           sk="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", style="virtual")

captured = {}


def _before_send(request, **kwargs):
    captured["req"] = request
    return botocore.awsrequest.AWSResponse(request.url, 599, {}, None)


def client(cfg, token=None, unsigned=False):
    s3 = {"addressing_style": cfg["style"]}
    if unsigned:
        s3["payload_signing_enabled"] = False
    c = botocore.session.get_session().create_client(
        "s3", endpoint_url=cfg["endpoint"], region_name=cfg["region"],
        aws_access_key_id=cfg["ak"], aws_secret_access_key=cfg["sk"],
        aws_session_token=token,
        config=Config(signature_version="s3v4", s3=s3, retries={"max_attempts": 1}))
    c.meta.events.register("before-send.s3", _before_send)
    return c


def sign_with_client(c, op, **params):
    captured.clear()
    try:
        getattr(c, op)(**params)
    except Exception:
        pass  # the fake 599 answer is not parseable; the request is what we wanted
    return captured["req"]


def sign_raw(cfg, method, url, headers, body, token=None, unsigned=False):
    captured.clear()
    creds = botocore.credentials.Credentials(cfg["ak"], cfg["sk"], token)
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=headers)
    if unsigned:
        req.context["client_config"] = types.SimpleNamespace(s3={"payload_signing_enabled": False})
    auth = botocore.auth.S3SigV4Auth(creds, "s3", cfg["region"])
    auth.add_auth(req)
    return req.prepare()


_orig_cr = botocore.auth.SigV4Auth.canonical_request
_orig_sts = botocore.auth.SigV4Auth.string_to_sign


def _spy_cr(self, request):
    captured["cr"] = _orig_cr(self, request)
    return captured["cr"]


def _spy_sts(self, request, canonical_request):
    captured["sts"] = _orig_sts(self, request, canonical_request)
    return captured["sts"]


botocore.auth.SigV4Auth.canonical_request = _spy_cr
botocore.auth.SigV4Auth.string_to_sign = _spy_sts


def c_str(s):
    if s is None:
        return "NULL"
    if isinstance(s, str):
        s = s.encode("utf-8")
    out = '"'
    for b in s:
        ch = chr(b)
        if ch in '"\\':
            out += "\\" + ch
        elif 32 <= b < 127 and ch != "?":
            out += ch
        elif ch == "\n":
            out += "\\n"
        else:
            out += '\\%03o' % b
    return out + '"'


VECTORS = []


def record(name, cfg, bucket, key, query, prepared, body, token=None):
    auth = prepared.headers["Authorization"]
    auth = auth.decode() if isinstance(auth, bytes) else auth
    signed = re.search(r"SignedHeaders=([^,]+)", auth).group(1).split(";")
    implicit = {"host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"}
    hdrs = []
    for h in signed:
        if h in implicit:
            continue
        v = prepared.headers[h]
        hdrs.append((h, v.decode() if isinstance(v, bytes) else v))
    ph = prepared.headers["X-Amz-Content-SHA256"]
    ph = ph.decode() if isinstance(ph, bytes) else ph
    cr, sts = captured["cr"], captured["sts"]
    u = urlsplit(prepared.url)
    host = botocore.auth._host_from_url(prepared.url)
    VECTORS.append(dict(name=name, method=prepared.method, host=host, bucket=bucket, key=key,
                        query=query, headers=hdrs, body=body, payload_hash=ph,
                        region=cfg["region"], ak=cfg["ak"], sk=cfg["sk"], token=token,
                        url_path=u.path, cr=cr, sts=sts, auth=auth))


def api(name, cfg, op, bucket, key, query, body=None, token=None, unsigned=False, **params):
    c = client(cfg, token=token, unsigned=unsigned)
    p = dict(Bucket=bucket, **params)
    if key is not None:
        p["Key"] = key
    if body is not None:
        p["Body"] = body
    prepared = sign_with_client(c, op, **p)
    vb = bucket if cfg["style"] == "path" else None
    # The raw parameters as botocore sent them (it adds some, e.g. encoding-type=url), in
    # reverse order so the signer's sorting is exercised.
    sent = parse_qsl(urlsplit(prepared.url).query, keep_blank_values=True)
    assert set(query) <= set(sent), (query, sent)
    record(name, cfg, vb, key or "", list(reversed(sent)), prepared, body, token)


def main():
    ak_key = "dir/a b+c=d&e?f#g%h~i!*'()[]@$,;:é😀.jsonl"
    api("get_object_path_style", SWIFT, "get_object", "argot", "blobs/0123abcd", [])
    api("put_object_hashed_payload", SWIFT, "put_object", "argot", "k1", [], body=b"hello world")
    api("put_object_unsigned_virtual_hosted", AWS, "put_object", "my-bucket", ak_key, [],
        body=b"streamed bytes", unsigned=True)
    api("put_object_hashed_virtual_hosted_encoded_key", AWS, "put_object", "my-bucket", ak_key,
        [], body=b"x" * 1000)
    api("get_object_range", SWIFT, "get_object", "argot", "prefix/obj", [],
        Range="bytes=5242877-5242882")
    api("head_bucket", SWIFT, "head_bucket", "argot", None, [])
    api("create_multipart_upload", SWIFT, "create_multipart_upload", "argot", "mp/key",
        [("uploads", "")])
    upload_id = "ZjY0NzE2ZmEtN2Q5OS00+/=YTE3LWIwZWQtMjY5YjNjOGQ0NGFm"
    api("upload_part", SWIFT, "upload_part", "argot", "mp/key",
        [("partNumber", "10000"), ("uploadId", upload_id)], body=b"\0\1\2part bytes",
        PartNumber=10000, UploadId=upload_id)
    api("upload_part_unsigned", SWIFT, "upload_part", "argot", "mp/key",
        [("partNumber", "2"), ("uploadId", upload_id)], body=b"part two", unsigned=True,
        PartNumber=2, UploadId=upload_id)
    api("upload_part_copy_range", SWIFT, "upload_part_copy", "argot", "dst key",
        [("partNumber", "1"), ("uploadId", upload_id)],
        CopySource="argot/src key+1", CopySourceRange="bytes=0-5242879", PartNumber=1,
        UploadId=upload_id)
    api("list_parts_paged", SWIFT, "list_parts", "argot", "mp/key",
        [("uploadId", upload_id), ("part-number-marker", "1000"), ("max-parts", "1000")],
        UploadId=upload_id, PartNumberMarker=1000, MaxParts=1000)
    api("abort_multipart_upload", SWIFT, "abort_multipart_upload", "argot", "mp/key",
        [("uploadId", upload_id)], UploadId=upload_id)
    api("list_objects_v2_paged", SWIFT, "list_objects_v2", "argot", None,
        [("list-type", "2"), ("prefix", "a/b c+d"), ("max-keys", "2"),
         ("continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")],
        Prefix="a/b c+d", MaxKeys=2,
        ContinuationToken="1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
    api("list_multipart_uploads_paged", SWIFT, "list_multipart_uploads", "argot", None,
        [("uploads", ""), ("prefix", "p/"), ("key-marker", "p/k 1"),
         ("upload-id-marker", upload_id)],
        Prefix="p/", KeyMarker="p/k 1", UploadIdMarker=upload_id)
    api("delete_object_virtual_hosted", AWS, "delete_object", "my-bucket", "blobs/x", [])
    api("get_object_session_token", AWS, "get_object", "my-bucket", "blobs/y", [],
        token="FQoGZXIvYXdzEBYaDk4+Ln1/session+token==")

    # Hand-made requests: header canonicalisation botocore's client never exercises.
    prep = sign_raw(SWIFT, "GET", "http://127.0.0.1:8080/argot/k%20x",
                    {"X-Amz-Meta-Note": "  two   spaces\tand tab  ", "Content-Type": "a/b"},
                    None)
    record("raw_header_trimall", SWIFT, "argot", "k x", [], prep, None)
    prep = sign_raw(SWIFT, "PUT", "https://s3.example.test/argot/k", {"Content-Type": "text/x"},
                    b"abc", unsigned=True)
    record("raw_https_default_port_unsigned", dict(SWIFT), "argot", "k", [], prep, b"abc")

    print("/* Generated by tests/unit/server/gen_sigv4_vectors.py with botocore %s (Debian\n"
          " * python3-botocore): reference SigV4 signatures. Do not edit; rerun the script. */"
          % botocore.__version__)
    print("/* clang-format off */")
    print("#define SIGV4_VECTOR_DATE %s" % c_str(FROZEN.strftime("%Y%m%dT%H%M%SZ")))
    print("static const sigv4_vector sigv4_vectors[] = {")
    for v in VECTORS:
        print("    {")
        for f in ("name", "method", "host", "bucket", "key"):
            print("        .%s = %s," % (f, c_str(v[f])))
        print("        .nquery = %d," % len(v["query"]))
        print("        .query = {%s}," % (", ".join("{%s, %s}" % (c_str(a), c_str(b))
                                                  for a, b in v["query"]) or "{NULL, NULL}"))
        print("        .nheaders = %d," % len(v["headers"]))
        print("        .headers = {%s}," % (", ".join("{%s, %s}" % (c_str(a), c_str(b))
                                                    for a, b in v["headers"]) or "{NULL, NULL}"))
        body = v["body"]
        print("        .body = %s," % c_str(body))
        print("        .body_len = %d," % (len(body) if body is not None else 0))
        for f in ("payload_hash", "region", "ak", "sk", "token", "url_path", "cr", "sts", "auth"):
            print("        .%s = %s," % (f, c_str(v[f])))
        print("    },")
    print("};")
    print("/* clang-format on */")


if __name__ == "__main__":
    main()
