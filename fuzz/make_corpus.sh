#!/bin/sh
# Regenerates the hand-written seeds of fuzz/corpus/multipart/ (see fuzz/fuzz_multipart.c for
# the input layout: flags byte, chunk sizes, body with boundary "AaB03x"). Inputs found by
# libFuzzer are committed next to them as found-* (picked by a greedy set cover over edge
# coverage) and crash-* (inputs that once failed); this script does not touch them.
set -eu
dir=$(dirname "$0")/corpus/multipart
mkdir -p "$dir"

# seed NAME FLAGS_AND_SIZES BODY: both arguments are printf %b strings.
seed() {
    printf '%b%b' "$2" "$3" >"$dir/seed-$1"
}

CD='Content-Disposition: form-data'
B='--AaB03x'

seed curl '\002\001\007' "$B\r\n$CD; name=\"purpose\"\r\n\r\nassistants\r\n$B\r\n$CD; name=\"file\"; filename=\"a.jsonl\"\r\nContent-Type: application/octet-stream\r\n\r\n{\"a\":1}\n\r\n$B--\r\n"
seed httpx '\001\003' "$B\r\n$CD; name=\"purpose\"\r\n\r\nbatch\r\n$B\r\n$CD; name=\"file\"; filename=\"in.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\nx\r\ny\r\n\r\n$B--\r\n"
seed undici '\000' "$B\r\n$CD; name=\"file\"; filename=\"a%22b.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n$B--"
seed dotnet '\003\001\002\003' "$B\r\nContent-Type: text/plain\r\n$CD; name=file; filename=test.txt; filename*=utf-8''%E4%BD%A0%E5%A5%BD.txt\r\n\r\nbody\r\n$B\r\nContent-Type: application/json; charset=utf-8\r\n$CD; name=expires_after\r\n\r\n{\"anchor\":\"created_at\",\"seconds\":3600}\r\n$B--\r\n"
seed latin1 '\000' "$B\r\n$CD; name=f; filename*=iso-8859-1''caf%E9.txt\r\n\r\nx\r\n$B--"
seed nul-filename '\000' "$B\r\n$CD; name=f; filename*=UTF-8'en'a%00b\r\n\r\nx\r\n$B--"
seed quoted '\000' "$B\r\n$CD; name=\"a\\\\\"b\"; filename=\"C:\\\\dir\\\\f.txt\"\r\n\r\nx\r\n$B--"
seed boundary-like '\001\005' "$B\r\n$CD; name=f; filename=a\r\n\r\n\r\n--AaB0\r\n--A\r--AaB03x\r\r\n$B\r\n$CD; name=g\r\n\r\n\r\n--AaB03\r\n$B--"
seed empty-parts '\000' "$B\r\n$CD; name=file; filename=\"\"\r\n\r\n\r\n$B\r\n$CD; name=\"\"\r\n\r\n\r\n$B--"
seed zero-parts '\000' "$B--"
seed preamble '\002\100\001' "preamble\r\n--AaB03y\r\n$B \t \r\n$CD; name=a\r\n\r\n1\r\n$B--  \r\nepilogue\r\n$B\r\n"
seed truncated '\000' "$B\r\n$CD; name=a\r\n\r\nabc\r\n--AaB0"
seed bad-delim '\000' "$B\r\n$CD; name=a\r\n\r\nabc\r\n--AaB03xyz\r\n"
seed bare-lf '\000' "$B\r\n$CD; name=a\n\r\nabc\r\n$B--"
seed folded '\000' "$B\r\n$CD;\r\n name=a\r\n\r\nabc\r\n$B--"
seed cte-base64 '\000' "$B\r\n$CD; name=a\r\nContent-Transfer-Encoding: base64\r\n\r\nYWJj\r\n$B--"
seed cte-binary '\000' "$B\r\n$CD; name=a\r\ncontent-transfer-encoding: Binary\r\n\r\nabc\r\n$B--"
seed tight-limits '\010' "$B\r\n$CD; name=a\r\n\r\n1\r\n$B\r\n$CD; name=b\r\n\r\n2\r\n$B\r\n$CD; name=c\r\n\r\n3\r\n$B\r\n$CD; name=d\r\n\r\n4\r\n$B--"
seed big-header '\010' "$B\r\n$CD; name=a; filename=\"0123456789012345678901234567890123456789012345678901234567890123456789\"\r\n\r\n1\r\n$B--"
seed abort-second '\040' "$B\r\n$CD; name=a\r\n\r\n1\r\n$B\r\n$CD; name=b\r\n\r\n2\r\n$B--"
seed params '\000' "$B\r\ncontent-type: a/b  \r\nX-Other: 1\r\n$CD ; filename = x.bin ; NAME = \"f\" ; ;\r\n\r\nv\r\n$B--"
seed ct-quoted '\000' 'multipart/form-data; boundary="Gvg=u2QyHvnRTVbssPgaFS3ZGmB=mvYbztNuEi6P60UUc1Uc6mJ2wL66VnoT_Y57pTn04d"'
seed ct-token '\000' 'Multipart/Form-Data ; charset=utf-8;BOUNDARY=abc-def_ghi;'
seed ct-bad '\000' 'multipart/form-data; boundary="a b "; boundary=x'
