/* Unit tests for backend/gz.c: round trips at several levels, the declared
 * size, the single-member rule (a second member, trailing bytes), truncated
 * and corrupted members, the output limits, and interchange with gzip(1)
 * both ways. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "gz.h"
#include "tap.h"
#include "testdir.h"

#define GZIP_PROGRAM "/bin/gzip"
#define BIG (256u * 1024 * 1024)   /* a cap no test reaches */

/* ---- inputs ------------------------------------------------------------------- */

/* Deterministic pseudo-random bytes (xorshift64), so failures reproduce. */
static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed ? seed : 0x9e3779b97f4a7c15u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 24);
	}
}

/* About len bytes of CloudTrail-like JSON lines (compressible text). */
static char *make_text(size_t len)
{
	char *p = malloc(len + 1);
	if (!p)
		exit(1);
	size_t n = 0;
	for (unsigned i = 0; n < len; i++) {
		char line[512];
		int k = snprintf(line, sizeof line,
				 "{\"eventVersion\":\"1.11\",\"eventTime\":\"2024-05-01T12:%02u:%02uZ\","
				 "\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\","
				 "\"awsRegion\":\"eu-west-1\",\"sourceIPAddress\":\"10.0.%u.%u\","
				 "\"requestParameters\":{\"bucketName\":\"logs\",\"key\":\"obj/%u\"},"
				 "\"eventID\":\"%08x-0000-4000-8000-%012x\"}\n",
				 i / 60 % 60, i % 60, i / 256 % 256, i % 256, i, i * 2654435761u, i);
		size_t take = (size_t)k < len - n ? (size_t)k : len - n;
		memcpy(p + n, line, take);
		n += take;
	}
	p[n] = '\0';
	return p;
}

/* ---- helpers -------------------------------------------------------------------- */

/* Compress src at level into a fresh buffer; NULL-data buffer on failure. */
static int compress_to(struct buf *gz, const void *src, size_t len, int level)
{
	buf_init(gz, BIG);
	return gz_compress(src, len, level, gz);
}

static bool same(const struct buf *b, const void *p, size_t len)
{
	return b->len == len && (len == 0 || memcmp(b->data, p, len) == 0);
}

static int decompress_copy(const unsigned char *p, size_t len, size_t max, struct buf *out)
{
	/* A heap copy of exactly len bytes, so that ASan sees any read past
	 * the end of the input. */
	unsigned char *copy = malloc(len ? len : 1);
	if (!copy)
		exit(1);
	if (len)
		memcpy(copy, p, len);
	int r = gz_decompress(copy, len, max, out);
	free(copy);
	return r;
}

static bool write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	bool good = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && good;
}

/* Everything a shell command prints, into out; its exit status or -1. */
static int run_capture(const char *cmd, struct buf *out)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (buf_add(out, chunk, n) < 0) {
			pclose(f);
			return -1;
		}
	return pclose(f);
}

/* ---- tests ------------------------------------------------------------------------- */

struct input {
	const char *name;
	const unsigned char *data;
	size_t len;
};

static void test_round_trips(const struct input *in, size_t n_in)
{
	static const int levels[] = { 1, 6, 12 };
	for (size_t i = 0; i < n_in; i++) {
		for (size_t k = 0; k < sizeof levels / sizeof levels[0]; k++) {
			struct buf gz, back;
			int r = compress_to(&gz, in[i].data, in[i].len, levels[k]);
			ok(r == 0 && gz.len >= 20 && (unsigned char)gz.data[0] == 0x1f &&
			   (unsigned char)gz.data[1] == 0x8b,
			   "compress %s at level %d (%zu -> %zu bytes)", in[i].name, levels[k], in[i].len, gz.len);
			ok(gz_declared_size(gz.data, gz.len) == (long long)in[i].len,
			   "declared size of %s at level %d", in[i].name, levels[k]);
			buf_init(&back, BIG);
			r = gz_decompress(gz.data, gz.len, in[i].len, &back);
			ok(r == 0 && same(&back, in[i].data, in[i].len),
			   "round trip %s at level %d (max = exact size)", in[i].name, levels[k]);
			buf_release(&back);
			buf_release(&gz);
		}
	}
}

static void test_levels_differ(const unsigned char *text, size_t len)
{
	struct buf l1, l12;
	int r1 = compress_to(&l1, text, len, 1);
	int r12 = compress_to(&l12, text, len, 12);
	ok(r1 == 0 && r12 == 0 && l12.len < l1.len, "level 12 is smaller than level 1 on text (%zu < %zu)",
	   l12.len, l1.len);
	buf_release(&l1);
	buf_release(&l12);

	static const int bad[] = { 0, -1, 13, 100 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct buf b;
		buf_init(&b, BIG);
		int r = gz_compress("x", 1, bad[i], &b);
		ok(r == -EINVAL && b.len == 0, "level %d refused", bad[i]);
		buf_release(&b);
	}
}

static void test_appends(void)
{
	struct buf gz, out;
	buf_init(&gz, BIG);
	ok(buf_puts(&gz, "HEAD") == 0 && gz_compress("hello", 5, 6, &gz) == 0 && !memcmp(gz.data, "HEAD", 4),
	   "gz_compress appends after existing bytes");
	buf_init(&out, BIG);
	buf_puts(&out, "pre:");
	int r = gz_decompress(gz.data + 4, gz.len - 4, 5, &out);
	ok(r == 0 && !strcmp(buf_str(&out), "pre:hello"), "gz_decompress appends after existing bytes");
	buf_release(&out);
	buf_release(&gz);
}

static void test_single_member(const unsigned char *text, size_t len)
{
	struct buf a, b, out;
	compress_to(&a, text, len, 6);
	compress_to(&b, "second", 6, 6);
	size_t one = a.len;

	buf_add(&a, b.data, b.len);
	buf_init(&out, BIG);
	int r = decompress_copy((unsigned char *)a.data, a.len, BIG, &out);
	ok(r == -EINVAL && out.len == 0, "two concatenated members refused");
	buf_release(&out);

	/* Two empty members: each is valid on its own. */
	struct buf e, e2;
	compress_to(&e, "", 0, 6);
	compress_to(&e2, "", 0, 6);
	buf_add(&e, e2.data, e2.len);
	buf_release(&e2);
	buf_init(&out, BIG);
	r = decompress_copy((unsigned char *)e.data, e.len, BIG, &out);
	ok(r == -EINVAL, "two empty members refused");
	buf_release(&out);
	buf_release(&e);

	static const struct {
		const char *name;
		const char *bytes;
		size_t n;
	} tails[] = {
		{ "one zero byte", "\0", 1 },
		{ "eight zero bytes", "\0\0\0\0\0\0\0\0", 8 },
		{ "a newline", "\n", 1 },
		{ "a lone gzip magic", "\x1f\x8b", 2 },
		{ "text", "garbage after the member", 24 },
	};
	for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
		a.len = one;
		buf_add(&a, tails[i].bytes, tails[i].n);
		buf_init(&out, BIG);
		r = decompress_copy((unsigned char *)a.data, a.len, BIG, &out);
		ok(r == -EINVAL && out.len == 0, "trailing garbage refused: %s", tails[i].name);
		buf_release(&out);
	}
	a.len = one;
	buf_init(&out, BIG);
	r = decompress_copy((unsigned char *)a.data, a.len, BIG, &out);
	ok(r == 0 && same(&out, text, len), "the first member alone still reads");
	buf_release(&out);
	buf_release(&a);
	buf_release(&b);
}

static void test_truncated(const unsigned char *text, size_t len)
{
	struct buf gz, out;
	compress_to(&gz, text, len, 6);
	const size_t cuts[] = { 0, 1, 2, 9, 10, 11, 19, gz.len / 2, gz.len - 8, gz.len - 5, gz.len - 4,
		gz.len - 1 };
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		buf_init(&out, BIG);
		int r = decompress_copy((unsigned char *)gz.data, cuts[i], BIG, &out);
		ok(r == -EINVAL && out.len == 0, "truncated to %zu of %zu bytes refused", cuts[i], gz.len);
		buf_release(&out);
	}
	buf_release(&gz);

	/* The empty member, one byte short: too short for gzip at all. */
	compress_to(&gz, "", 0, 6);
	buf_init(&out, BIG);
	int r = decompress_copy((unsigned char *)gz.data, gz.len - 1, BIG, &out);
	ok(r == -EINVAL, "empty member truncated by one byte refused");
	buf_release(&out);
	buf_release(&gz);
}

static void test_corrupted(const unsigned char *text, size_t text_len, const unsigned char *rnd, size_t rnd_len)
{
	struct buf gz, out;
	/* Incompressible input goes into stored blocks, so a flipped content
	 * byte leaves a well-formed deflate stream: only the CRC can tell. */
	compress_to(&gz, rnd, rnd_len, 1);
	unsigned char *p = (unsigned char *)gz.data;
	ok((p[10] & 0x06) == 0, "random input is stored (BTYPE 00)");
	size_t at = 10 + 5 + 1000;
	p[at] ^= 0x01;
	buf_init(&out, BIG);
	int r = decompress_copy(p, gz.len, BIG, &out);
	ok(r == -EINVAL && out.len == 0, "flipped byte in stored data refused (CRC)");
	buf_release(&out);
	p[at] ^= 0x01;

	static const struct {
		const char *name;
		long where;     /* from the start when >= 0, from the end when < 0 */
	} flips[] = {
		{ "magic", 0 }, { "method", 2 }, { "reserved flag", 3 },
		{ "CRC32", -8 }, { "CRC32 high byte", -5 }, { "ISIZE", -4 }, { "ISIZE high byte", -1 },
	};
	for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
		size_t off = flips[i].where >= 0 ? (size_t)flips[i].where : gz.len - (size_t)-flips[i].where;
		unsigned char bit = flips[i].where == 3 ? 0x80 : 0x01;
		p[off] ^= bit;
		buf_init(&out, BIG);
		r = decompress_copy(p, gz.len, BIG, &out);
		ok(r == -EINVAL && out.len == 0, "corrupted %s refused", flips[i].name);
		buf_release(&out);
		p[off] ^= bit;
	}
	buf_init(&out, BIG);
	r = decompress_copy(p, gz.len, BIG, &out);
	ok(r == 0 && same(&out, rnd, rnd_len), "restored member reads again");
	buf_release(&out);
	buf_release(&gz);

	/* Compressed text: flip a bit in about 200 places spread over the
	 * deflate stream; each must be refused, whichever check catches it. */
	compress_to(&gz, text, text_len, 6);
	p = (unsigned char *)gz.data;
	int refused = 0, tried = 0;
	size_t step = gz.len / 200 + 1;
	for (size_t off = 10; off + 8 < gz.len; off += step) {
		p[off] ^= 0x10;
		buf_init(&out, BIG);
		r = decompress_copy(p, gz.len, BIG, &out);
		tried++;
		if (r == -EINVAL && out.len == 0)
			refused++;
		else
			diag("flip at %zu: r=%d", off, r);
		buf_release(&out);
		p[off] ^= 0x10;
	}
	ok(tried > 0 && refused == tried, "%d of %d corrupted deflate streams refused", refused, tried);
	buf_release(&gz);
}

static void test_limits(const unsigned char *text, size_t len)
{
	struct buf gz, out;
	compress_to(&gz, text, len, 6);
	buf_init(&out, BIG);
	int r = gz_decompress(gz.data, gz.len, len - 1, &out);
	ok(r == -E2BIG && out.len == 0, "max one byte short: -E2BIG");
	buf_release(&out);
	buf_init(&out, BIG);
	r = gz_decompress(gz.data, gz.len, 4096, &out);
	ok(r == -E2BIG && out.len == 0, "max far below the size: -E2BIG");
	buf_release(&out);
	buf_init(&out, BIG);
	r = gz_decompress(gz.data, gz.len, 0, &out);
	ok(r == -E2BIG && out.len == 0, "max 0: -E2BIG");
	buf_release(&out);
	buf_init(&out, BIG);
	r = gz_decompress(gz.data, gz.len, len, &out);
	ok(r == 0 && same(&out, text, len), "max exactly the size: read");
	buf_release(&out);
	buf_init(&out, len - 1);
	r = gz_decompress(gz.data, gz.len, BIG, &out);
	ok(r == -E2BIG && out.len == 0, "out's own cap one byte short: -E2BIG");
	buf_release(&out);

	/* ISIZE is only a hint: a member that claims 0 bytes (or 4 GiB) must
	 * neither make us trust it nor allocate past max. */
	unsigned char *p = (unsigned char *)gz.data;
	unsigned char saved[4];
	memcpy(saved, p + gz.len - 4, 4);
	memset(p + gz.len - 4, 0, 4);
	buf_init(&out, BIG);
	r = gz_decompress(gz.data, gz.len, BIG, &out);
	ok(r == -EINVAL && out.len == 0, "ISIZE claiming 0 bytes: refused, not trusted");
	buf_release(&out);
	memset(p + gz.len - 4, 0xff, 4);
	ok(gz_declared_size(gz.data, gz.len) == 4294967295LL, "declared size 0xffffffff read unsigned");
	buf_init(&out, BIG);
	r = gz_decompress(gz.data, gz.len, len, &out);
	ok(r == -EINVAL && out.len == 0, "ISIZE claiming 4 GiB, max = real size: refused (mismatch)");
	buf_release(&out);
	buf_init(&out, BIG);
	r = gz_decompress(gz.data, gz.len, len / 2, &out);
	ok(r == -E2BIG && out.len == 0, "ISIZE claiming 4 GiB, max below real size: -E2BIG");
	buf_release(&out);
	memcpy(p + gz.len - 4, saved, 4);

	/* The empty member with max 0. */
	buf_release(&gz);
	compress_to(&gz, "", 0, 6);
	buf_init(&out, BIG);
	r = gz_decompress(gz.data, gz.len, 0, &out);
	ok(r == 0 && out.len == 0, "empty member with max 0: read");
	buf_release(&out);
	buf_release(&gz);

	/* gz_compress past out's cap. */
	buf_init(&gz, 30);
	r = gz_compress(text, len, 6, &gz);
	ok(r == -E2BIG && gz.len == 0, "gz_compress past out's cap: -E2BIG, out unchanged");
	buf_release(&gz);
	/* A cap below the bound but above the real output must still work. */
	struct buf probe;
	compress_to(&probe, text, len, 6);
	buf_init(&gz, probe.len);
	r = gz_compress(text, len, 6, &gz);
	ok(r == 0 && gz.len == probe.len && !memcmp(gz.data, probe.data, probe.len),
	   "gz_compress with a cap of exactly the output size");
	buf_release(&gz);
	buf_release(&probe);
}

static void test_declared_size(void)
{
	static const unsigned char short_in[19] = { 0x1f, 0x8b, 8 };
	ok(gz_declared_size(short_in, sizeof short_in) == -EINVAL, "declared size of 19 bytes: -EINVAL");
	ok(gz_declared_size(short_in, 0) == -EINVAL, "declared size of nothing: -EINVAL");
	unsigned char v[24] = { 0x1f, 0x8b, 8 };
	v[20] = 0x78;
	v[21] = 0x56;
	v[22] = 0x34;
	v[23] = 0x12;
	ok(gz_declared_size(v, sizeof v) == 0x12345678LL, "declared size is little-endian");
}

/* gzip(1) reads what gz_compress wrote, and gz_decompress reads what
 * gzip -6 wrote (with its FNAME header field). */
static void test_gzip_interop(const unsigned char *text, size_t len)
{
	if (access(GZIP_PROGRAM, X_OK) != 0) {
		ok(1, "gzip -dc reads gz_compress output # SKIP no " GZIP_PROGRAM);
		ok(1, "gz_decompress reads gzip -6 output # SKIP no " GZIP_PROGRAM);
		return;
	}
	char dir[64], path[128], cmd[512];
	testdir_make(dir, sizeof dir);

	static const int levels[] = { 1, 6, 12 };
	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
		struct buf gz, out;
		compress_to(&gz, text, len, levels[i]);
		snprintf(path, sizeof path, "%s/ours-%d.json.gz", dir, levels[i]);
		bool written = write_file(path, gz.data, gz.len);
		snprintf(cmd, sizeof cmd, GZIP_PROGRAM " -dc < '%s'", path);
		buf_init(&out, BIG);
		int st = written ? run_capture(cmd, &out) : -1;
		ok(st == 0 && same(&out, text, len), "gzip -dc reads gz_compress output (level %d)", levels[i]);
		buf_release(&out);
		snprintf(cmd, sizeof cmd, GZIP_PROGRAM " -t '%s'", path);
		ok(written && system(cmd) == 0, "gzip -t accepts gz_compress output (level %d)", levels[i]);
		buf_release(&gz);
	}

	snprintf(path, sizeof path, "%s/plain.json", dir);
	bool written = write_file(path, text, len);
	const char *const flags[] = { "-6", "-6 -n", "-1", "-9" };
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		struct buf gz, out;
		buf_init(&gz, BIG);
		snprintf(cmd, sizeof cmd, GZIP_PROGRAM " %s -c '%s'", flags[i], path);
		int st = written ? run_capture(cmd, &gz) : -1;
		buf_init(&out, BIG);
		int r = st == 0 ? gz_decompress(gz.data, gz.len, len, &out) : -1;
		ok(st == 0 && r == 0 && same(&out, text, len), "gz_decompress reads gzip %s output (%zu bytes)",
		   flags[i], gz.len);
		ok(gz_declared_size(gz.data, gz.len) == (long long)len, "declared size of gzip %s output", flags[i]);
		buf_release(&out);
		buf_release(&gz);
	}

	/* gzip's own multi-member file (two gzip runs concatenated). */
	snprintf(cmd, sizeof cmd, "(" GZIP_PROGRAM " -c '%s'; " GZIP_PROGRAM " -c '%s')", path, path);
	struct buf gz, out;
	buf_init(&gz, BIG);
	int st = written ? run_capture(cmd, &gz) : -1;
	buf_init(&out, BIG);
	int r = gz_decompress(gz.data, gz.len, BIG, &out);
	ok(st == 0 && r == -EINVAL, "gzip-made two-member file refused");
	buf_release(&out);
	buf_release(&gz);

	testdir_remove(dir);
}

int main(void)
{
	const size_t text_len = 1024 * 1024, rnd_len = 256 * 1024;
	unsigned char *text = (unsigned char *)make_text(text_len);
	unsigned char *rnd = malloc(rnd_len);
	if (!rnd)
		return 1;
	fill_random(rnd, rnd_len, 42);
	static const unsigned char one[1] = { 'x' };

	const struct input inputs[] = {
		{ "empty input", (const unsigned char *)"", 0 },
		{ "one byte", one, 1 },
		{ "1 MB of JSON text", text, text_len },
		{ "256 KB of random bytes", rnd, rnd_len },
	};
	test_round_trips(inputs, sizeof inputs / sizeof inputs[0]);
	test_levels_differ(text, text_len);
	test_appends();
	test_single_member(text, text_len);
	test_truncated(text, text_len);
	test_corrupted(text, text_len, rnd, rnd_len);
	test_limits(text, text_len);
	test_declared_size();
	test_gzip_interop(text, text_len);

	free(rnd);
	free(text);
	return tap_done();
}
