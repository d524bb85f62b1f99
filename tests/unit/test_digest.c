/* Unit tests for backend/digest.c: digest keys and names (the reference's
 * samples), the exact JSON of a known digest, an empty hour at a chain
 * start, event-time bounds over several files, refused inputs, the string
 * to sign, and a signed two-digest chain checked by the aws CLI's own
 * validation code (when the aws CLI is installed). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "digest.h"
#include "json.h"
#include "sign.h"
#include "tap.h"
#include "testdir.h"

#define BIG (1024u * 1024)
#define PYTHON "python3"

static char root[64];

/* The reference's sample (3.2) with its abridged values written out. */
#define S_ACCOUNT "111122223333"
#define S_BUCKET "S3-bucket-name"
#define S_START 1439820091      /* 2015-08-17T14:01:31Z */
#define S_END 1439823691        /* 2015-08-17T15:01:31Z */
#define S_NEWEST 1439823147     /* 2015-08-17T14:52:27Z */
#define S_OLDEST 1439822547     /* 2015-08-17T14:42:27Z */
#define S_KEY "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/" \
	"111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz"
#define S_PREV_KEY "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/" \
	"111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T140131Z.json.gz"
#define S_LOG_KEY "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/" \
	"111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz"
#define S_FP "31e8b5433410dfb61a9dc45cc65b22ff"
#define S_PREV_HASH "97fb795c1e9a0f3b7d2e4c6a8b0d1f3e5c7a9b1d3f5e7c9a0b2d4f6e8a1cdf2d"
#define S_LOG_HASH "9bb6190a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a471f6"

/* "50887c...328a" at a 2048-bit signature's length. */
static char s_prev_sig[SIGN_SIGNATURE_HEX_LEN + 1];

static void make_prev_sig(void)
{
	memset(s_prev_sig, 'b', SIGN_SIGNATURE_HEX_LEN);
	memcpy(s_prev_sig, "50887c", 6);
	memcpy(s_prev_sig + SIGN_SIGNATURE_HEX_LEN - 4, "328a", 4);
	s_prev_sig[SIGN_SIGNATURE_HEX_LEN] = '\0';
}

/* ---- helpers ------------------------------------------------------------------ */

static bool write_bytes(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	bool good = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && good;
}

static int run_capture(const char *cmd, struct buf *out)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (buf_add(out, chunk, n) < 0) {
			pclose(f);
			return -1;
		}
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- keys and names ----------------------------------------------------------------- */

static void test_keys(void)
{
	static const struct {
		const char *what;
		struct digest_location loc;
		long long end;
		const char *key;
	} v[] = {
		{ "the reference's sample", { NULL, S_ACCOUNT, "us-east-2", "your-trail-name", "us-east-2" },
		  S_END, S_KEY },
		{ "an empty prefix is none", { "", S_ACCOUNT, "us-east-2", "your-trail-name", "us-east-2" },
		  S_END, S_KEY },
		{ "the validate-logs lab's marker key",
		  { NULL, "123456789012", "us-east-1", "my-trail", "us-east-1" }, 1768035540,
		  "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/01/10/"
		  "123456789012_CloudTrail-Digest_us-east-1_my-trail_us-east-1_20260110T085900Z.json.gz" },
		{ "prefix, and a source region other than home",
		  { "team/audit", "123456789012", "eu-west-1", "org.trail_1", "us-east-1" }, 1798761599,
		  "team/audit/AWSLogs/123456789012/CloudTrail-Digest/eu-west-1/2026/12/31/"
		  "123456789012_CloudTrail-Digest_eu-west-1_org.trail_1_us-east-1_20261231T235959Z.json.gz" },
		{ "the epoch", { NULL, "000000000000", "ap-south-1", "t-1", "ap-south-1" }, 0,
		  "AWSLogs/000000000000/CloudTrail-Digest/ap-south-1/1970/01/01/"
		  "000000000000_CloudTrail-Digest_ap-south-1_t-1_ap-south-1_19700101T000000Z.json.gz" },
		{ "the last valid second", { NULL, S_ACCOUNT, "us-west-2", "abc", "us-west-2" },
		  DIGEST_TIME_MAX,
		  "AWSLogs/111122223333/CloudTrail-Digest/us-west-2/9999/12/31/"
		  "111122223333_CloudTrail-Digest_us-west-2_abc_us-west-2_99991231T235959Z.json.gz" },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct buf k, n;
		buf_init(&k, BIG);
		buf_init(&n, BIG);
		int r = digest_key(&v[i].loc, v[i].end, &k);
		ok(r == 0 && !strcmp(buf_str(&k), v[i].key), "key: %s: %s", v[i].what, buf_str(&k));
		r = digest_name(&v[i].loc, v[i].end, &n);
		const char *slash = strrchr(v[i].key, '/');
		ok(r == 0 && !strcmp(buf_str(&n), slash + 1), "name: %s", v[i].what);
		/* validate-logs reads the end time back as key[-24:-8]. */
		char stamp[32];
		time_t tt = (time_t)v[i].end;
		struct tm tm;
		strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r(&tt, &tm));
		ok(k.len > 24 && strlen(stamp) == 16 && !strncmp(k.data + k.len - 24, stamp, 16),
		   "key[-24:-8] is digestEndTime as %%Y%%m%%dT%%H%%M%%SZ: %s", v[i].what);
		buf_release(&k);
		buf_release(&n);
	}

	struct buf k;
	buf_init(&k, BIG);
	buf_puts(&k, "s3://b/");
	const struct digest_location good = { "", S_ACCOUNT, "us-east-2", "your-trail-name", "us-east-2" };
	ok(digest_key(&good, S_END, &k) == 0 && !strcmp(buf_str(&k), "s3://b/" S_KEY), "digest_key appends");
	buf_release(&k);

	static const struct {
		const char *what;
		struct digest_location loc;
		long long end;
	} bad[] = {
		{ "short account", { NULL, "12345", "us-east-1", "trail", "us-east-1" }, S_END },
		{ "account with letters", { NULL, "12345678901a", "us-east-1", "trail", "us-east-1" }, S_END },
		{ "bad region", { NULL, S_ACCOUNT, "US-EAST-1", "trail", "us-east-1" }, S_END },
		{ "region with a slash", { NULL, S_ACCOUNT, "us-east-1/x", "trail", "us-east-1" }, S_END },
		{ "bad home region", { NULL, S_ACCOUNT, "us-east-1", "trail", "../x" }, S_END },
		{ "trail with adjacent punctuation", { NULL, S_ACCOUNT, "us-east-1", "my--trail", "us-east-1" }, S_END },
		{ "trail with an underscore at the end", { NULL, S_ACCOUNT, "us-east-1", "trail_", "us-east-1" }, S_END },
		{ "prefix with a leading slash", { "/p", S_ACCOUNT, "us-east-1", "trail", "us-east-1" }, S_END },
		{ "prefix with a trailing slash", { "p/", S_ACCOUNT, "us-east-1", "trail", "us-east-1" }, S_END },
		{ "prefix with ..", { "a/../b", S_ACCOUNT, "us-east-1", "trail", "us-east-1" }, S_END },
		{ "missing account", { NULL, NULL, "us-east-1", "trail", "us-east-1" }, S_END },
		{ "missing trail", { NULL, S_ACCOUNT, "us-east-1", NULL, "us-east-1" }, S_END },
		{ "negative time", { NULL, S_ACCOUNT, "us-east-1", "trail", "us-east-1" }, -1 },
		{ "year 10000", { NULL, S_ACCOUNT, "us-east-1", "trail", "us-east-1" }, DIGEST_TIME_MAX + 1 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct buf b;
		buf_init(&b, BIG);
		int r1 = digest_key(&bad[i].loc, bad[i].end, &b);
		int r2 = bad[i].loc.prefix ? -EINVAL : digest_name(&bad[i].loc, bad[i].end, &b);
		ok(r1 == -EINVAL && r2 == -EINVAL && b.len == 0, "refused: %s", bad[i].what);
		buf_release(&b);
	}
	ok(digest_key(NULL, S_END, &k) == -EINVAL, "refused: no location");
	buf_init(&k, 64);
	ok(digest_key(&good, S_END, &k) == -E2BIG, "a key past the buffer's cap is -E2BIG");
	buf_release(&k);
}

/* ---- bodies ------------------------------------------------------------------------ */

static const struct digest_log_file sample_log = { S_BUCKET, S_LOG_KEY, S_LOG_HASH, S_OLDEST, S_NEWEST };

static struct digest sample_digest(const struct digest_previous *prev)
{
	struct digest d = { S_ACCOUNT, S_START, S_END, S_BUCKET, S_KEY, S_FP, prev, &sample_log, 1 };
	return d;
}

static void test_sample_body(void)
{
	struct digest_previous prev = { S_BUCKET, S_PREV_KEY, S_PREV_HASH, s_prev_sig };
	struct digest d = sample_digest(&prev);
	/* Written from the reference's sample by hand: its members, in its
	 * order, compact. */
	static const char FMT[] =
		"{\"awsAccountId\":\"111122223333\","
		"\"digestStartTime\":\"2015-08-17T14:01:31Z\","
		"\"digestEndTime\":\"2015-08-17T15:01:31Z\","
		"\"digestS3Bucket\":\"S3-bucket-name\","
		"\"digestS3Object\":\"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/"
		"111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz\","
		"\"digestPublicKeyFingerprint\":\"31e8b5433410dfb61a9dc45cc65b22ff\","
		"\"digestSignatureAlgorithm\":\"SHA256withRSA\","
		"\"newestEventTime\":\"2015-08-17T14:52:27Z\","
		"\"oldestEventTime\":\"2015-08-17T14:42:27Z\","
		"\"previousDigestS3Bucket\":\"S3-bucket-name\","
		"\"previousDigestS3Object\":\"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/"
		"111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T140131Z.json.gz\","
		"\"previousDigestHashValue\":\"97fb795c1e9a0f3b7d2e4c6a8b0d1f3e5c7a9b1d3f5e7c9a0b2d4f6e8a1cdf2d\","
		"\"previousDigestHashAlgorithm\":\"SHA-256\","
		"\"previousDigestSignature\":\"%s\","
		"\"logFiles\":[{\"s3Bucket\":\"S3-bucket-name\","
		"\"s3Object\":\"AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/"
		"111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz\","
		"\"hashValue\":\"9bb6190a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a471f6\","
		"\"hashAlgorithm\":\"SHA-256\","
		"\"newestEventTime\":\"2015-08-17T14:52:27Z\","
		"\"oldestEventTime\":\"2015-08-17T14:42:27Z\"}]}";
	struct buf want, got;
	buf_init(&want, BIG);
	buf_init(&got, BIG);
	buf_printf(&want, FMT, s_prev_sig);
	int r = digest_body(&d, &got);
	ok(r == 0 && !strcmp(buf_str(&got), buf_str(&want)), "the reference's sample digest, byte for byte");
	if (strcmp(buf_str(&got), buf_str(&want)))
		diag("got  %s\nwant %s", buf_str(&got), buf_str(&want));

	json *j = json_parse(got.data, got.len, NULL);
	ok(j && json_size(j) == 15, "it is JSON with 15 members");
	static const char *const required[] = { "digestPublicKeyFingerprint", "digestS3Bucket",
						"digestS3Object", "previousDigestSignature",
						"digestEndTime", "digestStartTime" };
	bool all = j != NULL;
	for (size_t i = 0; all && i < sizeof required / sizeof required[0]; i++)
		all = json_get(j, required[i]) != NULL;
	ok(all, "validate-logs's six required members are there");
	json_free(j);

	/* Appends, and the data to sign is over exactly these bytes. */
	buf_reset(&got);
	buf_puts(&got, "HEAD");
	ok(digest_body(&d, &got) == 0 && !strncmp(got.data, "HEAD{\"awsAccountId\"", 19), "digest_body appends");

	struct buf sts;
	buf_init(&sts, BIG);
	r = digest_data_to_sign(&d, want.data, want.len, &sts);
	char path[256], cmd[512];
	snprintf(path, sizeof path, "%s/sample.json", root);
	write_bytes(path, want.data, want.len);
	snprintf(cmd, sizeof cmd, "sha256sum %s", path);
	struct buf sum;
	buf_init(&sum, BIG);
	int st = run_capture(cmd, &sum);
	struct buf expect;
	buf_init(&expect, BIG);
	buf_printf(&expect, "2015-08-17T15:01:31Z\nS3-bucket-name/%s\n%.64s\n%s", S_KEY, buf_str(&sum), s_prev_sig);
	ok(r == 0 && st == 0 && !strcmp(buf_str(&sts), buf_str(&expect)),
	   "string to sign: end time, bucket/key, sha256sum of the body, previous signature");
	buf_release(&expect);
	buf_release(&sum);

	d.previous = NULL;
	buf_reset(&sts);
	r = digest_data_to_sign(&d, "", 0, &sts);
	ok(r == 0 && !strcmp(buf_str(&sts), "2015-08-17T15:01:31Z\nS3-bucket-name/" S_KEY "\n"
				    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nnull"),
	   "string to sign at a chain start ends in null");
	buf_release(&sts);
	buf_release(&want);
	buf_release(&got);
}

static void test_empty_chain_start(void)
{
	struct digest d = { "123456789012", 1768032000, 1768035600, "my-bucket",
			    "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/01/10/"
			    "123456789012_CloudTrail-Digest_us-east-1_my-trail_us-east-1_20260110T090000Z.json.gz",
			    "7f3f401420072e50a65a141430817ab3", NULL, NULL, 0 };
	static const char WANT[] =
		"{\"awsAccountId\":\"123456789012\","
		"\"digestStartTime\":\"2026-01-10T08:00:00Z\","
		"\"digestEndTime\":\"2026-01-10T09:00:00Z\","
		"\"digestS3Bucket\":\"my-bucket\","
		"\"digestS3Object\":\"AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/01/10/"
		"123456789012_CloudTrail-Digest_us-east-1_my-trail_us-east-1_20260110T090000Z.json.gz\","
		"\"digestPublicKeyFingerprint\":\"7f3f401420072e50a65a141430817ab3\","
		"\"digestSignatureAlgorithm\":\"SHA256withRSA\","
		"\"newestEventTime\":null,\"oldestEventTime\":null,"
		"\"previousDigestS3Bucket\":null,\"previousDigestS3Object\":null,"
		"\"previousDigestHashValue\":null,\"previousDigestHashAlgorithm\":null,"
		"\"previousDigestSignature\":null,"
		"\"logFiles\":[]}";
	struct buf got;
	buf_init(&got, BIG);
	int r = digest_body(&d, &got);
	ok(r == 0 && !strcmp(buf_str(&got), WANT), "an empty hour at a chain start: nulls and []");
	if (strcmp(buf_str(&got), WANT))
		diag("got %s", buf_str(&got));
	json *j = json_parse(got.data, got.len, NULL);
	ok(j && json_is_null(json_get(j, "previousDigestSignature")) &&
	   json_is_null(json_get(j, "newestEventTime")) && json_is_array(json_get(j, "logFiles")) &&
	   json_size(json_get(j, "logFiles")) == 0, "the nulls are JSON null, logFiles an empty array");
	json_free(j);

	/* An empty hour in the middle of a chain: links, but null event times. */
	struct digest_previous prev = { "my-bucket", "AWSLogs/prev.json.gz", S_PREV_HASH, s_prev_sig };
	d.previous = &prev;
	buf_reset(&got);
	r = digest_body(&d, &got);
	j = r == 0 ? json_parse(got.data, got.len, NULL) : NULL;
	ok(j && json_is_null(json_get(j, "newestEventTime")) && json_is_null(json_get(j, "oldestEventTime")) &&
	   !strcmp(json_string(json_get(j, "previousDigestS3Object")), "AWSLogs/prev.json.gz") &&
	   !strcmp(json_string(json_get(j, "previousDigestHashAlgorithm")), "SHA-256") &&
	   strstr(got.data, "\"oldestEventTime\":null,\"previousDigestS3Bucket\":\"my-bucket\""),
	   "an empty hour mid-chain: null event times, links present");
	json_free(j);
	buf_release(&got);
}

static void test_event_bounds(void)
{
	static const struct digest_log_file logs[] = {
		{ "b", "k1", S_LOG_HASH, 1000, 2000 },
		{ "b", "k2", S_LOG_HASH, 500, 1500 },     /* the oldest */
		{ "b", "k3", S_LOG_HASH, 1200, 3000 },    /* the newest */
		{ "c", "k4", S_LOG_HASH, 2500, 2500 },
	};
	struct digest d = { S_ACCOUNT, 100, 4000, "b", "k", S_FP, NULL, logs, 4 };
	struct buf got;
	buf_init(&got, BIG);
	int r = digest_body(&d, &got);
	json *j = r == 0 ? json_parse(got.data, got.len, NULL) : NULL;
	json *files = json_get(j, "logFiles");
	ok(j && !strcmp(json_string(json_get(j, "newestEventTime")), "1970-01-01T00:50:00Z") &&
	   !strcmp(json_string(json_get(j, "oldestEventTime")), "1970-01-01T00:08:20Z"),
	   "newest and oldest event times over all files");
	bool order = json_size(files) == 4;
	static const char *const keys[] = { "k1", "k2", "k3", "k4" };
	for (size_t i = 0; order && i < 4; i++)
		order = !strcmp(json_string(json_get(json_at(files, i), "s3Object")), keys[i]);
	ok(order, "log files in the order given");
	ok(j && !strcmp(json_string(json_get(json_at(files, 3), "s3Bucket")), "c") &&
	   !strcmp(json_string(json_get(json_at(files, 1), "oldestEventTime")), "1970-01-01T00:08:20Z"),
	   "each file keeps its own bucket and times");
	json_free(j);

	/* The oldest event may precede the window (a late digest, 3.1). */
	d.start = 3000;
	buf_reset(&got);
	ok(digest_body(&d, &got) == 0, "events older than digestStartTime are allowed");
	buf_release(&got);
}

static void test_refused(void)
{
	struct digest_previous prev = { S_BUCKET, S_PREV_KEY, S_PREV_HASH, s_prev_sig };
	struct digest_log_file log = sample_log;
	struct digest_previous p;
	struct digest d;
	struct buf b;
	buf_init(&b, BIG);
#define REFUSED(what, change)                                                    \
	do {                                                                     \
		d = sample_digest(&prev);                                        \
		p = prev;                                                        \
		log = sample_log;                                                \
		d.previous = &p;                                                 \
		d.logs = &log;                                                   \
		change;                                                          \
		buf_reset(&b);                                                   \
		ok(digest_body(&d, &b) == -EINVAL && b.len == 0, "refused: %s", what); \
	} while (0)
	REFUSED("account of 11 digits", d.account = "11112222333");
	REFUSED("no account", d.account = NULL);
	REFUSED("start after end", d.start = d.end + 1);
	REFUSED("negative start", d.start = -1);
	REFUSED("end in year 10000", d.end = DIGEST_TIME_MAX + 1);
	REFUSED("empty bucket", d.bucket = "");
	REFUSED("no key", d.key = NULL);
	REFUSED("uppercase fingerprint", d.fingerprint = "31E8B5433410DFB61A9DC45CC65B22FF");
	REFUSED("short fingerprint", d.fingerprint = "31e8b5433410dfb61a9dc45cc65b22f");
	REFUSED("uppercase log hash",
		log.hash = "9BB6190A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A471F6");
	REFUSED("short log hash", log.hash = "9bb619");
	REFUSED("log file oldest after newest", (log.oldest = S_NEWEST + 1));
	REFUSED("log file without a key", log.key = "");
	REFUSED("previous without a signature", p.signature = NULL);
	REFUSED("previous signature of odd length", p.signature = "abc");
	REFUSED("previous signature not hex", p.signature = "zz");
	REFUSED("previous hash missing", p.hash = NULL);
	REFUSED("previous key empty", p.key = "");
	REFUSED("files counted but not given", (d.logs = NULL, d.n_logs = 2));
	REFUSED("too many files", d.n_logs = DIGEST_LOG_FILES_MAX + 1);
#undef REFUSED
	ok(digest_body(NULL, &b) == -EINVAL, "refused: no digest");
	buf_release(&b);

	d = sample_digest(&prev);
	buf_init(&b, 100);
	ok(digest_body(&d, &b) == -E2BIG, "a body past the buffer's cap is -E2BIG");
	buf_release(&b);

	buf_init(&b, BIG);
	p = prev;
	p.signature = "abc";
	d.previous = &p;
	ok(digest_data_to_sign(&d, "{}", 2, &b) == -EINVAL, "string to sign refuses a bad previous signature");
	ok(digest_data_to_sign(&d, NULL, 0, &b) == -EINVAL, "string to sign refuses no body");
	buf_release(&b);
}

/* ---- a signed chain, checked by the aws CLI's own code --------------------------------- */

/* Run by python3: for each digest NAME in argv[2:], read DIR/NAME.json (the
 * body), DIR/NAME.sig and DIR/pub.der, and check it as validate-logs does,
 * with its classes; print one line per check. */
static const char CHECK_PY[] =
	"import base64, hashlib, json, re, sys\n"
	"from awscli.customizations.cloudtrail.validation import (\n"
	"    DigestProvider, DigestSignatureError, DigestTraverser, Sha256RSADigestValidator,\n"
	"    extract_digest_key_date, format_date, parse_date)\n"
	"d, account, trail, home, region, prefix = sys.argv[1:7]\n"
	"der = open(d + '/pub.der', 'rb').read()\n"
	"pub = base64.b64encode(der)\n"
	"fp = hashlib.md5(der).hexdigest()\n"
	"regex = DigestProvider(None, account, trail, home, region)._create_digest_key_regex(prefix)\n"
	"prev = None\n"
	"for name in sys.argv[7:]:\n"
	"    body = open(d + '/' + name + '.json', 'rb').read()\n"
	"    sig = open(d + '/' + name + '.sig').read()\n"
	"    data = json.loads(body)\n"
	"    ok = all(k in data for k in DigestTraverser.required_digest_keys)\n"
	"    print(name, 'required', ok)\n"
	"    key = data['digestS3Object']\n"
	"    print(name, 'regex', re.match(regex, key) is not None)\n"
	"    print(name, 'keydate', extract_digest_key_date(key) == format_date(parse_date(data['digestEndTime'])))\n"
	"    print(name, 'fingerprint', data['digestPublicKeyFingerprint'] == fp)\n"
	"    data['_signature'] = sig\n"
	"    try:\n"
	"        Sha256RSADigestValidator().validate(data['digestS3Bucket'], key, pub, data, body)\n"
	"        print(name, 'signature', True)\n"
	"    except Exception as e:\n"
	"        print(name, 'signature', False, e)\n"
	"    try:\n"
	"        Sha256RSADigestValidator().validate(data['digestS3Bucket'], key, pub, data, body + b' ')\n"
	"        print(name, 'tamper', False)\n"
	"    except DigestSignatureError:\n"
	"        print(name, 'tamper', True)\n"
	"    if prev is None:\n"
	"        print(name, 'link', data['previousDigestSignature'] is None and data['previousDigestS3Object'] is None)\n"
	"    else:\n"
	"        print(name, 'link', data['previousDigestSignature'] == prev[2] and\n"
	"              data['previousDigestHashValue'] == hashlib.sha256(prev[1]).hexdigest() and\n"
	"              data['previousDigestS3Object'] == prev[0]['digestS3Object'] and\n"
	"              data['previousDigestS3Bucket'] == prev[0]['digestS3Bucket'])\n"
	"    for f in data['logFiles']:\n"
	"        log = open(d + '/' + f['s3Object'].replace('/', '_'), 'rb').read()\n"
	"        print(name, 'loghash', hashlib.sha256(log).hexdigest() == f['hashValue'])\n"
	"    prev = (data, body, sig)\n";

static bool have_cli_code(void)
{
	struct buf out;
	buf_init(&out, BIG);
	int st = run_capture(PYTHON " -c 'import awscli.customizations.cloudtrail.validation' 2>/dev/null",
			     &out);
	buf_release(&out);
	return st == 0;
}

/* Build, sign and write one digest: NAME.json, NAME.sig. */
static int write_digest(const struct digest *d, struct sign_key *k, const char *name, struct buf *body,
			char sig[SIGN_SIGNATURE_HEX_LEN + 1])
{
	struct buf sts;
	buf_init(&sts, BIG);
	int r = digest_body(d, body);
	if (r == 0)
		r = digest_data_to_sign(d, body->data, body->len, &sts);
	if (r == 0)
		r = sign_sign(k, sts.data, sts.len, sig);
	buf_release(&sts);
	char path[256];
	snprintf(path, sizeof path, "%s/%s.json", root, name);
	if (r == 0 && !write_bytes(path, body->data, body->len))
		r = -EIO;
	snprintf(path, sizeof path, "%s/%s.sig", root, name);
	if (r == 0 && !write_bytes(path, sig, strlen(sig)))
		r = -EIO;
	return r;
}

static void test_signed_chain(void)
{
	char ring[128];
	snprintf(ring, sizeof ring, "%s/keys", root);
	struct ct_err err;
	struct sign *s = sign_open(ring, &err);
	struct sign_key *k = NULL;
	int r = sign_current(s, "eu-west-1", 1768032000, &k, &err);
	struct sign_public_key *keys = NULL;
	size_t n = 0;
	if (r == 0)
		r = sign_list(s, "eu-west-1", &keys, &n, &err);
	ok(r == 0 && n == 1, "a signing key for eu-west-1");
	if (r < 0 || n != 1) {
		sign_key_free(k);
		sign_close(s);
		return;
	}
	char path[256];
	snprintf(path, sizeof path, "%s/pub.der", root);
	write_bytes(path, keys[0].der, keys[0].der_len);

	const struct digest_location loc = { "team/audit", "123456789012", "eu-west-1", "main", "us-east-1" };
	struct buf key1, key2, body1, body2;
	buf_init(&key1, DIGEST_KEY_MAX);
	buf_init(&key2, DIGEST_KEY_MAX);
	buf_init(&body1, DIGEST_BODY_MAX);
	buf_init(&body2, DIGEST_BODY_MAX);
	digest_key(&loc, 1768035600, &key1);
	digest_key(&loc, 1768039200, &key2);

	/* A log file in the second hour: its uncompressed bytes and hash. */
	static const char LOG[] = "{\"Records\":[{\"eventTime\":\"2026-01-10T09:30:00Z\"}]}";
	static const char LOG_KEY[] = "team/audit/AWSLogs/123456789012/CloudTrail/eu-west-1/2026/01/10/"
				      "123456789012_CloudTrail_eu-west-1_20260110T0935Z_q7ZkP2mVw9LrT4sX.json.gz";
	char log_hash[SIGN_SHA256_HEX_LEN + 1];
	sign_sha256_hex(LOG, strlen(LOG), log_hash);
	char log_path[512];
	snprintf(log_path, sizeof log_path, "%s/", root);
	for (const char *c = LOG_KEY; *c; c++) {
		size_t l = strlen(log_path);
		log_path[l] = *c == '/' ? '_' : *c;
		log_path[l + 1] = '\0';
	}
	write_bytes(log_path, LOG, strlen(LOG));

	char sig1[SIGN_SIGNATURE_HEX_LEN + 1] = "", sig2[SIGN_SIGNATURE_HEX_LEN + 1] = "";
	struct digest d1 = { "123456789012", 1768032000, 1768035600, "audit-bucket", buf_str(&key1),
			     keys[0].fingerprint, NULL, NULL, 0 };
	r = write_digest(&d1, k, "d1", &body1, sig1);
	ok(r == 0, "first digest (an empty hour, chain start) built and signed");

	char hash1[SIGN_SHA256_HEX_LEN + 1];
	sign_sha256_hex(body1.data, body1.len, hash1);
	struct digest_previous prev = { "audit-bucket", buf_str(&key1), hash1, sig1 };
	struct digest_log_file lf = { "audit-bucket", LOG_KEY, log_hash, 1768037400, 1768037400 };
	struct digest d2 = { "123456789012", 1768035600, 1768039200, "audit-bucket", buf_str(&key2),
			     keys[0].fingerprint, &prev, &lf, 1 };
	r = write_digest(&d2, k, "d2", &body2, sig2);
	ok(r == 0, "second digest (one log file, linked) built and signed");

	/* Our own verifier agrees. */
	struct buf sts;
	buf_init(&sts, BIG);
	digest_data_to_sign(&d2, body2.data, body2.len, &sts);
	ok(sign_verify(keys[0].der, keys[0].der_len, sts.data, sts.len, sig2) == 0,
	   "sign_verify accepts the second digest");
	buf_release(&sts);

	if (!have_cli_code()) {
		ok(1, "# SKIP the aws CLI's Python code is not installed");
	} else {
		char script[256], cmd[1024];
		snprintf(script, sizeof script, "%s/check.py", root);
		write_bytes(script, CHECK_PY, strlen(CHECK_PY));
		snprintf(cmd, sizeof cmd, PYTHON " %s %s 123456789012 main us-east-1 eu-west-1 team/audit d1 d2 2>&1",
			 script, root);
		struct buf out;
		buf_init(&out, BIG);
		int st = run_capture(cmd, &out);
		ok(st == 0, "the check ran");
		static const char *const checks[] = { "required", "regex", "keydate", "fingerprint",
						      "signature", "tamper", "link" };
		for (int i = 1; i <= 2; i++)
			for (size_t c = 0; c < sizeof checks / sizeof checks[0]; c++) {
				char line[64];
				snprintf(line, sizeof line, "d%d %s True\n", i, checks[c]);
				ok(strstr(buf_str(&out), line), "aws CLI code: d%d %s", i, checks[c]);
			}
		ok(strstr(buf_str(&out), "d2 loghash True\n"), "aws CLI code: d2's log file hash matches");
		if (strstr(buf_str(&out), "False") || st != 0)
			diag("%s", buf_str(&out));
		buf_release(&out);
	}
	buf_release(&key1);
	buf_release(&key2);
	buf_release(&body1);
	buf_release(&body2);
	sign_public_keys_free(keys, n);
	sign_key_free(k);
	sign_close(s);
}

int main(void)
{
	testdir_make(root, sizeof root);
	make_prev_sig();
	test_keys();
	test_sample_body();
	test_empty_chain_start();
	test_event_bounds();
	test_refused();
	test_signed_chain();
	testdir_remove(root);
	return tap_done();
}
