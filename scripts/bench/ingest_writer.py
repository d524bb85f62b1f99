#!/usr/bin/env python3
"""Helper of scripts/bench/ingest (python3, standard library only).

  ingest_writer.py gen RECORDS OUT.jsonl EXPECT.json
      Generate RECORDS realistic CloudTrail records (1-2 KB each, JSON Lines)
      and work out, by trailfs's routing rules, how many of them each of the
      benchmark's trails takes (EXPECT.json).

  ingest_writer.py run EVENTS RECORDS.jsonl EXPECT.json STORE TRAIL=BUCKET...
      Four writer processes each append a quarter of the records to EVENTS in
      writes of whole lines of at most 128 KiB; the clock runs from the moment
      they are released until every trail holds every record routed to it in
      delivered objects (counted from the store's metadata sidecars, whose
      trailfs-records member says how many records an object holds, and only
      once the object beside the sidecar has the size the sidecar names).
      Prints one JSON line of figures.

  ingest_writer.py gzip RECORDS.jsonl
      Time `taskset -c 0 gzip -6 -c < RECORDS.jsonl > /dev/null`; prints the
      wall and the CPU seconds.
"""
import errno
import json
import os
import random
import subprocess
import sys
import time
import uuid

# ---- the trails of the benchmark, as scripts/bench/ingest sets them up ----

HOME = "us-east-1"
DATA_BUCKETS = ["bench-app-data", "bench-uploads"]
TRAILS = {
    # the console's defaults, plus S3 data events on both application buckets
    "all": {"multi_region": True, "global": True, "mgmt": 3,
            "data": [("AWS::S3::Object", "arn:aws:s3:::bench-app-data/", 3),
                     ("AWS::S3::Object", "arn:aws:s3:::bench-uploads/", 3)]},
    # write management events in every region, and uploads
    "writes": {"multi_region": True, "global": True, "mgmt": 2,
               "data": [("AWS::S3::Object", "arn:aws:s3:::bench-uploads/", 2)]},
    # the home region only, no global services
    "home": {"multi_region": False, "global": False, "mgmt": 3, "data": []},
}

# ---- trailfs's rules (backend/event.c, backend/select.c), mirrored ----

S3_DATA = {
    "AbortMultipartUpload", "CompleteMultipartUpload", "CopyObject", "CreateMultipartUpload",
    "DeleteObject", "DeleteObjectTagging", "DeleteObjects", "GetObject", "GetObjectAcl",
    "GetObjectAttributes", "GetObjectLegalHold", "GetObjectRetention", "GetObjectTagging",
    "HeadBucket", "HeadObject", "ListObjectVersions", "ListObjects", "ListObjectsV2",
    "ListParts", "PostObject", "PutObject", "PutObjectAcl", "PutObjectLegalHold",
    "PutObjectRetention", "PutObjectTagging", "RestoreObject", "SelectObjectContent",
    "UploadPart", "UploadPartCopy",
}
DDB_DATA = {
    "BatchExecuteStatement", "BatchGetItem", "BatchWriteItem", "DeleteItem",
    "ExecuteStatement", "ExecuteTransaction", "GetItem", "PutItem", "Query", "Scan",
    "TransactGetItems", "TransactWriteItems", "UpdateItem",
}
VERBS = ["Get", "List", "Describe", "Head", "Lookup", "Search", "Query", "Scan", "BatchGet",
         "Select"]
GLOBAL = {"iam.amazonaws.com", "sts.amazonaws.com", "cloudfront.amazonaws.com",
          "route53.amazonaws.com", "waf.amazonaws.com"}


def data_plane(source, name):
    if source == "s3.amazonaws.com":
        return name in S3_DATA
    if source == "dynamodb.amazonaws.com":
        return name in DDB_DATA
    if source == "lambda.amazonaws.com":
        return name == "Invoke"
    return False


def read_only_call(name):
    for v in VERBS:
        if name.startswith(v) and not (len(name) > len(v) and "a" <= name[len(v)] <= "z"):
            return True
    return False


def routes(rec):
    """The trails that take rec."""
    source, name, region = rec["eventSource"], rec["eventName"], rec["awsRegion"]
    cat = rec.get("eventCategory") or ("Data" if data_plane(source, name) else "Management")
    ro = rec["readOnly"] if "readOnly" in rec else read_only_call(name)
    rw = 1 if ro else 2
    out = []
    for tname, t in TRAILS.items():
        if not t["multi_region"] and region != HOME:
            continue
        if source in GLOBAL and not t["global"]:
            continue
        if cat == "Management":
            if t["mgmt"] & rw:
                out.append(tname)
        elif cat == "Data":
            for res in rec.get("resources", []):
                if any(d_rw & rw and d_type == res.get("type") and res.get("ARN", "").startswith(v)
                       for d_type, v, d_rw in t["data"]):
                    out.append(tname)
                    break
    return out


# ---- realistic records ----

REGIONS = (["us-east-1"] * 8 + ["us-west-2"] * 4 + ["eu-west-1"] * 3 +
           ["eu-central-1", "ap-northeast-1", "ap-southeast-2", "us-east-2", "ca-central-1",
            "sa-east-1", "ap-south-1", "eu-north-1"])
ACCOUNT = "111122223333"
ROLES = ["Admin", "DeployPipeline", "ReadOnlyAuditor", "app-backend", "data-loader",
         "OrganizationAccountAccessRole", "eks-node-group-role"]
USERS = ["alice", "bob", "carol", "deploy-bot", "terraform", "ci-runner"]
AGENTS = [
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0-18-cloud-amd64 exe/x86_64.debian.12 prompt/off command/ec2.describe-instances",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.53.0",
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.51.6 (go1.22.1; linux; amd64)",
    "console.amazonaws.com",
    "aws-sdk-java/2.25.13 Linux/5.10.210-201.852.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
]
CIPHERS = ["TLS_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "TLS_AES_256_GCM_SHA384"]

# (source, name, weight); readOnly comes from the verb, as trailfs derives it
CALLS = [
    ("ec2.amazonaws.com", "DescribeInstances", 10), ("ec2.amazonaws.com", "DescribeSecurityGroups", 5),
    ("ec2.amazonaws.com", "DescribeVolumes", 4), ("ec2.amazonaws.com", "RunInstances", 3),
    ("ec2.amazonaws.com", "TerminateInstances", 2), ("ec2.amazonaws.com", "CreateTags", 4),
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", 2),
    ("iam.amazonaws.com", "GetUser", 3), ("iam.amazonaws.com", "ListRoles", 3),
    ("iam.amazonaws.com", "CreateRole", 1), ("iam.amazonaws.com", "AttachRolePolicy", 1),
    ("sts.amazonaws.com", "AssumeRole", 6), ("sts.amazonaws.com", "GetCallerIdentity", 3),
    ("s3.amazonaws.com", "ListBuckets", 3), ("s3.amazonaws.com", "GetBucketPolicy", 2),
    ("s3.amazonaws.com", "PutBucketPolicy", 1), ("s3.amazonaws.com", "CreateBucket", 1),
    ("s3.amazonaws.com", "GetObject", 8), ("s3.amazonaws.com", "PutObject", 5),
    ("s3.amazonaws.com", "DeleteObject", 1), ("s3.amazonaws.com", "HeadObject", 2),
    ("lambda.amazonaws.com", "ListFunctions20150331", 2), ("lambda.amazonaws.com", "GetFunction", 2),
    ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", 1),
    ("dynamodb.amazonaws.com", "DescribeTable", 3), ("dynamodb.amazonaws.com", "ListTables", 2),
    ("dynamodb.amazonaws.com", "UpdateTable", 1),
    ("kms.amazonaws.com", "Decrypt", 6), ("kms.amazonaws.com", "GenerateDataKey", 3),
    ("kms.amazonaws.com", "DescribeKey", 2),
    ("logs.amazonaws.com", "CreateLogStream", 3), ("logs.amazonaws.com", "DescribeLogGroups", 2),
    ("ssm.amazonaws.com", "GetParameter", 4), ("ssm.amazonaws.com", "PutParameter", 1),
    ("monitoring.amazonaws.com", "PutMetricAlarm", 1), ("monitoring.amazonaws.com", "DescribeAlarms", 2),
]


def hexid(rng, n):
    return "%0*x" % (n, rng.getrandbits(4 * n))


def alnum(rng, n, chars="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"):
    return "".join(rng.choice(chars) for _ in range(n))


def identity(rng):
    if rng.random() < 0.75:
        role = rng.choice(ROLES)
        rid = "AROA" + alnum(rng, 17)
        sess = rng.choice(USERS) + "-" + hexid(rng, 8)
        return {
            "type": "AssumedRole",
            "principalId": rid + ":" + sess,
            "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (ACCOUNT, role, sess),
            "accountId": ACCOUNT,
            "accessKeyId": "ASIA" + alnum(rng, 16),
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": rid,
                                  "arn": "arn:aws:iam::%s:role/%s" % (ACCOUNT, role),
                                  "accountId": ACCOUNT, "userName": role},
                "webIdFederationData": {},
                "attributes": {"creationDate": "2026-03-02T%02d:%02d:%02dZ" % (
                    rng.randrange(24), rng.randrange(60), rng.randrange(60)),
                    "mfaAuthenticated": rng.choice(["false", "true"])},
            },
        }
    user = rng.choice(USERS)
    return {
        "type": "IAMUser", "principalId": "AIDA" + alnum(rng, 17),
        "arn": "arn:aws:iam::%s:user/%s" % (ACCOUNT, user), "accountId": ACCOUNT,
        "accessKeyId": "AKIA" + alnum(rng, 16), "userName": user,
        "sessionContext": {"attributes": {"creationDate": "2026-03-02T08:00:00Z",
                                          "mfaAuthenticated": "true"}},
    }


def call_body(rng, source, name, region):
    """requestParameters, responseElements, resources (or None), extra members."""
    acct = ACCOUNT
    iid = "i-" + hexid(rng, 17)
    if source == "ec2.amazonaws.com":
        if name.startswith("Describe"):
            req = {"instancesSet": {"items": [{"instanceId": "i-" + hexid(rng, 17)}
                                              for _ in range(rng.randrange(1, 6))]},
                   "filterSet": {"items": [{"name": "tag:team", "valueSet": {"items": [{"value": "payments"}]}}]}}
            return req, None, None
        if name == "RunInstances":
            req = {"instancesSet": {"items": [{"imageId": "ami-" + hexid(rng, 17), "minCount": 1, "maxCount": 1}]},
                   "instanceType": rng.choice(["t3.micro", "m6i.large", "c7g.xlarge"]),
                   "blockDeviceMapping": {}, "monitoring": {"enabled": False},
                   "disableApiTermination": False, "clientToken": str(uuid.UUID(int=rng.getrandbits(128)))}
            resp = {"requestId": str(uuid.UUID(int=rng.getrandbits(128))), "reservationId": "r-" + hexid(rng, 17),
                    "ownerId": acct, "instancesSet": {"items": [{"instanceId": iid, "currentState": {"code": 0, "name": "pending"},
                                                                 "privateIpAddress": "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(256)),
                                                                 "subnetId": "subnet-" + hexid(rng, 17), "vpcId": "vpc-" + hexid(rng, 17)}]}}
            return req, resp, None
        req = {"resourcesSet": {"items": [{"resourceId": iid}]},
               "tagSet": {"items": [{"key": "owner", "value": rng.choice(USERS)}, {"key": "cost-center", "value": str(rng.randrange(1000, 9999))}]},
               "groupId": "sg-" + hexid(rng, 17)}
        return req, {"requestId": str(uuid.UUID(int=rng.getrandbits(128))), "_return": True}, None
    if source == "iam.amazonaws.com":
        role = rng.choice(ROLES)
        if name == "CreateRole":
            doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
            return ({"roleName": role + "-" + hexid(rng, 6), "assumeRolePolicyDocument": doc},
                    {"role": {"path": "/", "roleName": role, "roleId": "AROA" + alnum(rng, 17),
                              "arn": "arn:aws:iam::%s:role/%s" % (acct, role), "createDate": "Mar 2, 2026, 9:12:01 AM"}}, None)
        if name == "AttachRolePolicy":
            return {"roleName": role, "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}, None, None
        return {"userName": rng.choice(USERS), "maxItems": 100}, None, None
    if source == "sts.amazonaws.com":
        if name == "AssumeRole":
            role = rng.choice(ROLES)
            sess = "session-" + hexid(rng, 10)
            return ({"roleArn": "arn:aws:iam::%s:role/%s" % (acct, role), "roleSessionName": sess, "durationSeconds": 3600},
                    {"credentials": {"accessKeyId": "ASIA" + alnum(rng, 16), "sessionToken": alnum(rng, 40, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+="),
                                     "expiration": "Mar 2, 2026, 11:02:11 AM"},
                     "assumedRoleUser": {"assumedRoleId": "AROA" + alnum(rng, 17) + ":" + sess,
                                         "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (acct, role, sess)}},
                    [{"accountId": acct, "type": "AWS::IAM::Role", "ARN": "arn:aws:iam::%s:role/%s" % (acct, role)}])
        return None, None, None
    if source == "s3.amazonaws.com":
        if name in S3_DATA:
            bucket = rng.choice(DATA_BUCKETS)
            key = "%s/%04d/%02d/%s.%s" % (rng.choice(["reports", "uploads", "exports", "tmp"]), 2026,
                                          rng.randrange(1, 13), hexid(rng, 12), rng.choice(["csv", "json", "parquet"]))
            req = {"bucketName": bucket, "Host": bucket + ".s3." + region + ".amazonaws.com", "key": key}
            if name == "PutObject":
                req["x-amz-server-side-encryption"] = "aws:kms"
            res = [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::%s/%s" % (bucket, key)},
                   {"accountId": acct, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + bucket}]
            extra = {"additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": rng.choice(CIPHERS),
                                             "bytesTransferredIn": rng.randrange(0, 90000) if name == "PutObject" else 0,
                                             "AuthenticationMethod": "AuthHeader", "x-amz-id-2": alnum(rng, 60, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"),
                                             "bytesTransferredOut": rng.randrange(0, 900000) if name == "GetObject" else 0}}
            return req, ({"x-amz-server-side-encryption": "aws:kms"} if name == "PutObject" else None), res, extra
        bucket = "team-" + rng.choice(["logs", "assets", "backups", "ml"]) + "-" + hexid(rng, 6)
        req = {"bucketName": bucket, "Host": "s3.amazonaws.com"}
        if name == "PutBucketPolicy":
            req["bucketPolicy"] = {"Version": "2012-10-17", "Statement": [{"Sid": "DenyInsecure", "Effect": "Deny", "Principal": "*",
                                                                          "Action": "s3:*", "Resource": "arn:aws:s3:::%s/*" % bucket,
                                                                          "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
        return req, None, [{"accountId": acct, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + bucket}]
    if source == "lambda.amazonaws.com":
        fn = rng.choice(["orders-api", "thumbnailer", "nightly-export", "auth-hook"])
        if name.startswith("Update"):
            return ({"functionName": fn, "s3Bucket": "deploy-artifacts", "s3Key": fn + "/" + hexid(rng, 12) + ".zip", "publish": True},
                    {"functionName": fn, "functionArn": "arn:aws:lambda:%s:%s:function:%s" % (region, acct, fn),
                     "runtime": "python3.12", "codeSize": rng.randrange(10000, 5000000), "version": str(rng.randrange(1, 90)),
                     "lastModified": "2026-03-02T10:02:11.000+0000"}, None)
        return {"functionName": fn}, None, None
    if source == "dynamodb.amazonaws.com":
        table = rng.choice(["orders", "sessions", "inventory"])
        if name == "UpdateTable":
            return ({"tableName": table, "provisionedThroughput": {"readCapacityUnits": 50, "writeCapacityUnits": 25}},
                    {"tableDescription": {"tableName": table, "tableStatus": "UPDATING",
                                          "tableArn": "arn:aws:dynamodb:%s:%s:table/%s" % (region, acct, table)}}, None)
        return ({"tableName": table} if name == "DescribeTable" else {"limit": 100}), None, None
    if source == "kms.amazonaws.com":
        key = str(uuid.UUID(int=rng.getrandbits(128)))
        karn = "arn:aws:kms:%s:%s:key/%s" % (region, acct, key)
        req = {"keyId": karn, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        if name != "DescribeKey":
            req["encryptionContext"] = {"aws:s3:arn": "arn:aws:s3:::bench-app-data/" + hexid(rng, 12)}
        return req, None, [{"accountId": acct, "type": "AWS::KMS::Key", "ARN": karn}]
    if source == "logs.amazonaws.com":
        group = "/aws/lambda/" + rng.choice(["orders-api", "thumbnailer", "nightly-export"])
        if name == "CreateLogStream":
            return {"logGroupName": group, "logStreamName": "2026/03/02/[$LATEST]" + hexid(rng, 32)}, None, None
        return {"logGroupNamePrefix": "/aws/lambda/"}, None, None
    if source == "ssm.amazonaws.com":
        p = "/app/%s/%s" % (rng.choice(["prod", "staging"]), rng.choice(["db-url", "feature-flags", "api-key"]))
        if name == "PutParameter":
            return {"name": p, "type": "SecureString", "keyId": "alias/aws/ssm", "overwrite": True, "tier": "Standard"}, {"version": rng.randrange(1, 40), "tier": "Standard"}, None
        return {"name": p, "withDecryption": True}, None, None
    if source == "monitoring.amazonaws.com":
        if name == "PutMetricAlarm":
            return ({"alarmName": "high-5xx-" + hexid(rng, 4), "metricName": "5XXError", "namespace": "AWS/ApiGateway",
                     "statistic": "Sum", "period": 60, "evaluationPeriods": 5, "threshold": 10, "comparisonOperator": "GreaterThanThreshold",
                     "alarmActions": ["arn:aws:sns:%s:%s:oncall" % (region, acct)]}, None, None)
        return {"stateValue": "ALARM", "maxRecords": 50}, None, None
    return None, None, None


def make_record(rng, now, cum, total):
    x = rng.random() * total
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    source, name, _ = CALLS[lo]
    region = "us-east-1" if source in GLOBAL else rng.choice(REGIONS)
    body = call_body(rng, source, name, region)
    req, resp, res = body[0], body[1], body[2]
    extra = body[3] if len(body) > 3 else {}
    t = now - rng.randrange(3600)
    rec = {
        "eventVersion": "1.09",
        "userIdentity": identity(rng),
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ("%d.%d.%d.%d" % (rng.randrange(1, 224), rng.randrange(256), rng.randrange(256), rng.randrange(256))
                            if rng.random() < 0.8 else "AWS Internal"),
        "userAgent": rng.choice(AGENTS),
        "requestParameters": req,
        "responseElements": resp,
    }
    rec.update(extra)
    rec["requestID"] = str(uuid.UUID(int=rng.getrandbits(128)))
    full = rng.random() < 0.5    # forwarded from CloudTrail as it stands, or as an app writes it
    if full:
        rec["eventID"] = str(uuid.UUID(int=rng.getrandbits(128)))
        rec["readOnly"] = read_only_call(name)
    else:
        del rec["eventVersion"]
    if res:
        rec["resources"] = res
    if full:
        rec["eventType"] = "AwsApiCall"
        rec["managementEvent"] = not data_plane(source, name)
        rec["recipientAccountId"] = ACCOUNT
        rec["eventCategory"] = "Data" if data_plane(source, name) else "Management"
    rec["tlsDetails"] = {"tlsVersion": rng.choice(["TLSv1.3", "TLSv1.2"]), "cipherSuite": rng.choice(CIPHERS),
                         "clientProvidedHostHeader": source.replace(".amazonaws.com", "") + "." + region + ".amazonaws.com"}
    if rng.random() < 0.3:
        rec["sessionCredentialFromConsole"] = "true"
    return rec


def gen(n, out_path, expect_path):
    rng = random.Random(20260302)
    now = int(time.time())
    cum, total = [], 0
    for _, _, w in CALLS:
        total += w
        cum.append(total)
    counts = {t: 0 for t in TRAILS}
    dropped = 0
    sizes = []
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    with open(out_path, "w", encoding="utf-8") as f:
        batch = []
        for i in range(n):
            rec = make_record(rng, now, cum, total)
            line = dumps(rec)
            # 1-2 KB: pad a short record the way real ones grow (more
            # request detail), cut nothing from a long one but keep it under 2 KB
            if len(line) < 1024:
                rec["requestParameters"] = dict(rec["requestParameters"] or {})
                rec["requestParameters"]["clientContext"] = alnum(rng, 1024 - len(line) + rng.randrange(0, 700),
                                                                  "abcdefghijklmnopqrstuvwxyz0123456789-_")
                line = dumps(rec)
            while len(line) > 2000 and rec["userAgent"]:
                rec["userAgent"] = rec["userAgent"][: max(0, len(rec["userAgent"]) - (len(line) - 2000))]
                line = dumps(rec)
            sizes.append(len(line))
            r = routes(rec)
            if not r:
                dropped += 1
            for t in r:
                counts[t] += 1
            batch.append(line)
            if len(batch) == 4096:
                f.write("\n".join(batch) + "\n")
                batch = []
        if batch:
            f.write("\n".join(batch) + "\n")
    with open(expect_path, "w") as f:
        json.dump({"records": n, "bytes": os.path.getsize(out_path), "trails": counts,
                   "dropped": dropped, "min_size": min(sizes), "max_size": max(sizes),
                   "mean_size": sum(sizes) / len(sizes)}, f)


# ---- the timed ingest ----

CHUNK = 128 * 1024   # the mount's write size: one write request each


def chunks_of(data, limit=CHUNK):
    """Split data (whole lines) into pieces of whole lines of at most limit bytes."""
    out, start, n = [], 0, len(data)
    while start < n:
        end = start + limit
        if end >= n:
            out.append(data[start:])
            break
        cut = data.rfind(b"\n", start, end)
        if cut < start:   # a line longer than limit: let it go whole
            cut = data.find(b"\n", end)
            if cut < 0:
                cut = n - 1
        out.append(data[start:cut + 1])
        start = cut + 1
    return out


def writer(events, pieces, go_r, done_w):
    fd = os.open(events, os.O_WRONLY | os.O_APPEND)
    os.read(go_r, 1)
    retries = 0
    for p in pieces:
        view = memoryview(p)
        while view:
            try:
                k = os.write(fd, view)
            except OSError as e:
                if e.errno == errno.ENOSPC:   # the spool is full: wait for a delivery
                    retries += 1
                    time.sleep(0.05)
                    continue
                raise
            view = view[k:]
    os.close(fd)
    os.write(done_w, ("%d\n" % retries).encode())
    os._exit(0)


def count_delivered(store, where, seen):
    """Records in delivered objects of each trail (each trail has a bucket of
    its own); seen caches the sidecars already counted."""
    counts = {}
    for trail, bucket in where.items():
        total = 0
        mroot = os.path.join(store, ".meta", bucket, "objects")
        oroot = os.path.join(store, bucket)
        for dirpath, _, files in os.walk(mroot):
            for fn in files:
                if fn.startswith(".") or not fn.endswith(".json.gz.json"):
                    continue
                side = os.path.join(dirpath, fn)
                got = seen.get(side)
                if got is None:
                    try:
                        with open(side, "rb") as f:
                            doc = json.loads(f.read())
                        rel = os.path.relpath(side, mroot)[: -len(".json")]
                        if os.path.getsize(os.path.join(oroot, rel)) != doc["size"]:
                            continue      # the object is not written yet
                        got = int(doc["meta"]["trailfs-records"])
                    except (OSError, ValueError, KeyError):
                        continue
                    seen[side] = got
                total += got
        counts[trail] = total
    return counts


def run(events, records_path, expect_path, store, where_args, writers=4):
    with open(expect_path) as f:
        expect = json.load(f)
    where = {}
    for a in where_args:
        trail, bucket = a.split("=", 1)
        where[trail] = bucket
    with open(records_path, "rb") as f:
        data = f.read()
    # four quarters at line boundaries
    parts, start = [], 0
    for i in range(1, writers + 1):
        end = len(data) if i == writers else data.find(b"\n", len(data) * i // writers) + 1
        parts.append(data[start:end])
        start = end
    # Setting the trails up (mkdir, echo, cat) is recorded as management
    # events that the trails take: let those be delivered first, and count
    # from there.
    seen = {}
    base = count_delivered(store, where, seen)
    steady = time.monotonic()
    while time.monotonic() - steady < 2.5:
        time.sleep(0.25)
        now_counts = count_delivered(store, where, seen)
        if now_counts != base:
            base, steady = now_counts, time.monotonic()
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    pids = []
    for p in parts:
        pieces = chunks_of(p)
        pid = os.fork()
        if pid == 0:
            os.close(go_w)
            os.close(done_r)
            try:
                writer(events, pieces, go_r, done_w)
            except BaseException as e:  # noqa: BLE001 - report and leave
                sys.stderr.write("writer: %s\n" % e)
                os._exit(1)
        pids.append(pid)
    os.close(go_r)
    os.close(done_w)
    del data, parts
    time.sleep(0.5)               # let the writers load and open
    t0 = time.monotonic()
    os.write(go_w, b"g" * writers)
    failed = 0
    for pid in pids:
        _, st = os.waitpid(pid, 0)
        failed += st != 0
    t_written = time.monotonic() - t0
    retries = sum(int(x) for x in os.read(done_r, 4096).split())
    if failed:
        print(json.dumps({"error": "%d writer(s) failed" % failed}))
        return 1
    want = {t: expect["trails"][t] + base[t] for t in where}
    setup_objects = len(seen)
    deadline = time.monotonic() + 600
    while True:
        got = count_delivered(store, where, seen)
        now = time.monotonic()
        if all(got[t] >= want[t] for t in want) or now > deadline:
            break
        time.sleep(0.01)
    elapsed = now - t0
    ok = all(got[t] == want[t] for t in want)
    got = {t: got[t] - base[t] for t in got}
    want = {t: want[t] - base[t] for t in want}
    print(json.dumps({"records": expect["records"], "bytes": expect["bytes"], "write_seconds": t_written,
                      "seconds": elapsed, "delivered": got, "expected": want, "ok": ok,
                      "enospc_retries": retries, "objects": len(seen) - setup_objects}))
    return 0 if ok else 1


def gzip_time(path):
    """Wall seconds and CPU seconds (user + system) of gzip -6 on one core."""
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with open(path, "rb") as f:
        subprocess.run(["taskset", "-c", "0", "gzip", "-6", "-c"], stdin=f,
                       stdout=subprocess.DEVNULL, check=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print("%.6f %.6f" % (wall, cpu))
    return 0


def main(argv):
    if len(argv) >= 4 and argv[1] == "gen":
        gen(int(argv[2]), argv[3], argv[4])
        return 0
    if len(argv) >= 6 and argv[1] == "run":
        return run(argv[2], argv[3], argv[4], argv[5], argv[6:])
    if len(argv) == 3 and argv[1] == "gzip":
        return gzip_time(argv[2])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
