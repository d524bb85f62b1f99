#!/usr/bin/env python3
"""Make a day of a multi-region trail's log files and digests with trailfs
itself, for scripts/bench/validate (not timed).

    validate_gen.py MOUNT TRAIL CLOCKFILE START STEP STEPS REGIONS RECORDS

The daemon runs with -o test_clock=CLOCKFILE set to START and
-o delivery_interval=1 (real seconds).  For each of STEPS steps the test
clock moves on to START + (i+1)*STEP, RECORDS records per region (REGIONS:
comma-separated) are appended to MOUNT/events, and the step waits until
the trail's status shows the delivery at that time (within a second).  Then the
clock moves past the last digest window and logging is stopped, which ends
the chain with a final digest; the script waits for it.  Prints a JSON
summary (start and end times, log files delivered)."""
import json, os, sys, time, uuid

def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

def set_clock(path, t):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % t)
    os.replace(tmp, path)

def status(mnt, trail):
    with open(os.path.join(mnt, "trails", trail, "status")) as f:
        return json.load(f)

def wait_for(pred, what, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    sys.exit("validate_gen: timed out waiting for %s" % what)

def record(t, region, i):
    return {
        "eventVersion": "1.09", "eventTime": iso(t), "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances" if i % 3 else "RunInstances", "awsRegion": region,
        "sourceIPAddress": "198.51.100.%d" % (i % 250 + 1), "userAgent": "aws-cli/2.15.0",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE%06d" % i,
                         "arn": "arn:aws:iam::123456789012:user/bench", "accountId": "123456789012",
                         "userName": "bench"},
        "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-%017x" % i}]}},
        "responseElements": None, "requestID": str(uuid.uuid4()), "eventID": str(uuid.uuid4()),
        "readOnly": bool(i % 3), "eventType": "AwsApiCall", "managementEvent": True,
        "recipientAccountId": "123456789012", "eventCategory": "Management",
    }

def main():
    mnt, trail, clock = sys.argv[1:4]
    start, step, steps = (int(x) for x in sys.argv[4:7])
    regions = sys.argv[7].split(",")
    per = int(sys.argv[8])
    events = os.path.join(mnt, "events")
    n = 0
    for s in range(steps):
        t = start + (s + 1) * step
        lines = []
        for region in regions:
            for k in range(per):
                lines.append(json.dumps(record(t - step // 2, region, n), separators=(",", ":")))
                n += 1
        set_clock(clock, t)
        with open(events, "a") as f:
            f.write("\n".join(lines) + "\n")
        want = iso(t)
        wait_for(lambda: status(mnt, trail).get("LatestDeliveryTime", "") >= want,
                 "the delivery at %s" % want)
    end = start + steps * step
    # The last step's clock is past the last window: its digests are due.
    wait_for(lambda: status(mnt, trail).get("LatestDigestDeliveryTime", "") >= iso(end - 3600),
             "the digests up to %s" % iso(end))
    with open(os.path.join(mnt, "trails", trail, "logging"), "w") as f:
        f.write("off\n")
    wait_for(lambda: status(mnt, trail).get("LatestDigestDeliveryTime", "") >= iso(end),
             "the final digest at %s" % iso(end))
    print(json.dumps({"start": iso(start), "end": iso(end), "records": n}))

main()
