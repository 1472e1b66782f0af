#!/bin/sh
# Regenerates the hand-written seeds of fuzz/corpus/s3xml/ (see fuzz/fuzz_s3xml.c for the
# input layout: byte 0 the decoder, 0-6 an s3r_kind and 7 the bare XML reader; byte 1 the chunk
# size - 1; then the body). The bodies are S3 answers as Swift 2.30's s3api and AWS send them.
# Inputs found by libFuzzer are committed beside them as found-* (libFuzzer's -merge=1
# -use_counters=0 over a 120 s run: the inputs adding edge coverage); this script leaves those.
set -eu
dir=$(dirname "$0")/corpus/s3xml
mkdir -p "$dir"

# seed NAME KIND_AND_CHUNK BODY: printf %b strings.
seed() {
    printf '%b%s' "$2" "$3" >"$dir/seed-$1"
}

X="<?xml version='1.0' encoding='UTF-8'?>
"
NS=' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
seed error '\000\017' "$X<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>k</Key><RequestId>tx1</RequestId></Error>"
seed error-not-error '\000\000' "$X<ListBucketResult$NS/>"
seed initiate '\001\003' "$X<InitiateMultipartUploadResult$NS><Bucket>argot</Bucket><Key>k</Key><UploadId>ZjY0NzE2ZmEtN2Q5OS00+/=</UploadId></InitiateMultipartUploadResult>"
seed complete '\002\007' "$X<CompleteMultipartUploadResult$NS><Location>http://127.0.0.1/argot/k</Location><Bucket>argot</Bucket><Key>k</Key><ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag></CompleteMultipartUploadResult>"
seed complete-200-error '\002\001' '<?xml version="1.0" encoding="UTF-8"?>

<Error>
  <Code>InternalError</Code>
  <Message>We encountered an internal error. Please try again.</Message>
  <RequestId>656c76696e6727732072657175657374</RequestId>
  <HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId>
</Error>'
seed copy-part '\003\077' "$X<CopyPartResult$NS><LastModified>2026-12-01T21:08:47.000Z</LastModified><ETag>\"5eb63bbbe01eeed093cb22bb8f5acdc3\"</ETag></CopyPartResult>"
seed list-objects '\004\005' "$X<ListBucketResult$NS><Name>argot</Name><Prefix>t/</Prefix><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><Contents><Key>t/a&amp;b</Key><LastModified>2026-12-01T21:08:47.123Z</LastModified><ETag>\"5eb63bbbe01eeed093cb22bb8f5acdc3\"</ETag><Size>11</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>t/c</Key><Size>0</Size></Contents><KeyCount>2</KeyCount><NextContinuationToken>dC9j</NextContinuationToken></ListBucketResult>"
seed list-objects-empty '\004\377' "$X<ListBucketResult$NS><Name>argot</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>"
seed list-uploads '\005\011' "$X<ListMultipartUploadsResult$NS><Bucket>argot</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><NextKeyMarker>p/k2</NextKeyMarker><NextUploadIdMarker>MmE0</NextUploadIdMarker><MaxUploads>2</MaxUploads><IsTruncated>true</IsTruncated><Upload><Key>p/k1</Key><UploadId>ZjY0</UploadId><Initiator><ID>test:tester</ID><DisplayName>test:tester</DisplayName></Initiator><Owner><ID>test:tester</ID></Owner><StorageClass>STANDARD</StorageClass><Initiated>2026-12-01T21:08:47.000Z</Initiated></Upload><Upload><Key>p/k2</Key><UploadId>MmE0</UploadId><Initiated>2026-12-01T21:09:00.000Z</Initiated></Upload></ListMultipartUploadsResult>"
seed list-parts '\006\002' "$X<ListPartsResult$NS><Bucket>argot</Bucket><Key>k</Key><UploadId>ZjY0</UploadId><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker><MaxParts>2</MaxParts><IsTruncated>true</IsTruncated><Part><PartNumber>1</PartNumber><LastModified>2026-12-01T21:08:47.000Z</LastModified><ETag>\"aa\"</ETag><Size>5242880</Size></Part><Part><PartNumber>2</PartNumber><ETag>\"bb\"</ETag><Size>123</Size></Part></ListPartsResult>"
seed xml-features '\007\003' "$(printf '\357\273\277')<?xml version=\"1.0\"?><!-- c - -- --><A x='1>2' y=\"/\"><B>&lt;&gt;&amp;&quot;&apos;&#65;&#x1F600;</B><C/><D><![CDATA[<raw> ]] ]]]></D></A>"
seed xml-doctype '\007\000' '<!DOCTYPE A [<!ENTITY x "y">]><A>&x;</A>'
seed xml-deep '\007\001' '<A><B><C><D><E><F><G><H><I/></H></G></F></E></D></C></B></A>'
seed xml-mismatch '\007\002' '<A><B></A></B>'
