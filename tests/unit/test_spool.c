/* Unit tests for backend/spool.c: the frame format, recovery of torn tails
 * and damage, space accounting, rotation, concurrent appends and a kill -9
 * crash loop, in a private temporary directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"
#include "tap.h"
#include "testdir.h"

#define HDR 20u                           /* a frame's header, as spool.h lays it out */
#define PAYLOAD_MAX (16u * 1024 * 1024)   /* the largest payload spool.h allows */

static char root[64];

static const char *at(const char *rel)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	return path;
}

static const char *seg_path(const char *dir, uint64_t first)
{
	static char path[300];
	snprintf(path, sizeof path, "%s/%s/%020" PRIu64 ".seg", root, dir, first);
	return path;
}

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int count_segments(const char *dir)
{
	DIR *d = opendir(at(dir));
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += strlen(e->d_name) == 24 && !strcmp(e->d_name + 20, ".seg");
	if (d)
		closedir(d);
	return n;
}

static struct spool *open_dir(const char *dir, uint64_t max, int *err)
{
	char why[512];
	int e = 0;
	struct spool *s = spool_open(at(dir), max, &e, why, sizeof why);
	if (!s)
		diag("spool_open %s: %d %s", dir, e, why);
	if (err)
		*err = e;
	return s;
}

/* Deterministic payloads: the bytes of record key k. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static void fill(uint64_t key, unsigned char *p, size_t len)
{
	uint64_t x = mix(key + 0x9e3779b97f4a7c15ull);
	for (size_t i = 0; i < len; i++) {
		if ((i & 7) == 0)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (unsigned char)(x >> (8 * (i & 7)));
	}
}

static bool same_as_fill(uint64_t key, const unsigned char *p, size_t len)
{
	uint64_t x = mix(key + 0x9e3779b97f4a7c15ull);
	for (size_t i = 0; i < len; i++) {
		if ((i & 7) == 0)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		if (p[i] != (unsigned char)(x >> (8 * (i & 7))))
			return false;
	}
	return true;
}

/* ---- CRC-32C ---- */

static uint32_t crc_bitwise(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
	}
	return ~c;
}

static void test_crc(void)
{
	static const struct {
		const char *name;
		int kind;   /* 0: text, 1: 32 zero bytes, 2: 32 x 0xff, 3: 0..31, 4: 31..0 */
		const char *text;
		uint32_t crc;
	} vec[] = {
		{ "\"123456789\"", 0, "123456789", 0xE3069283u },
		{ "empty", 0, "", 0x00000000u },
		{ "\"a\"", 0, "a", 0xC1D04330u },
		{ "32 zero bytes (RFC 3720)", 1, NULL, 0x8A9136AAu },
		{ "32 bytes of 0xff (RFC 3720)", 2, NULL, 0x62A8AB43u },
		{ "0..31 (RFC 3720)", 3, NULL, 0x46DD794Eu },
		{ "31..0 (RFC 3720)", 4, NULL, 0x113FDB5Cu },
	};
	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		unsigned char b[32];
		const void *p = b;
		size_t n = 32;
		if (vec[i].kind == 0) {
			p = vec[i].text;
			n = strlen(vec[i].text);
		}
		for (int k = 0; k < 32; k++)
			b[k] = vec[i].kind == 1 ? 0 : vec[i].kind == 2 ? 0xff : vec[i].kind == 3 ? (unsigned char)k
											      : (unsigned char)(31 - k);
		ok(spool_crc32c(p, n) == vec[i].crc, "CRC-32C of %s is %08" PRIX32, vec[i].name, vec[i].crc);
	}
	/* Every length and alignment around the eight-byte steps agrees with
	 * the bit-at-a-time definition. */
	unsigned char data[1100];
	fill(42, data, sizeof data);
	bool same = true;
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n + off <= 1040; n++)
			same &= spool_crc32c(data + off, n) == crc_bitwise(data + off, n);
	ok(same, "CRC-32C agrees with the bitwise definition for lengths 0..1040 at offsets 0..7");
}

/* ---- reading back ---- */

/* Expect frames start, start+1, ... whose payloads are fill(seq) of lens[seq]. */
struct expect {
	uint64_t next;         /* the sequence number the next frame must have */
	const size_t *lens;    /* by sequence number */
	size_t n_lens;
	size_t frames;
	int bad;
	uint64_t stop_at;      /* return 7 at this seq (0: never) */
};

static int check_frame(void *ctx, uint64_t seq, const void *payload, size_t len)
{
	struct expect *e = ctx;
	if (seq != e->next || seq >= e->n_lens || len != e->lens[seq] || !same_as_fill(seq, payload, len)) {
		if (!e->bad)
			diag("frame %" PRIu64 " (expected %" PRIu64 "): %zu bytes, wrong", seq, e->next, len);
		e->bad++;
	}
	e->next = seq + 1;
	e->frames++;
	return e->stop_at && seq == e->stop_at ? 7 : 0;
}

static bool read_all_ok(struct spool *s, uint64_t from, uint64_t to, const size_t *lens, size_t n_lens)
{
	struct expect e = { .next = from, .lens = lens, .n_lens = n_lens };
	int r = spool_read(s, from, to, check_frame, &e);
	if (r != 0 || e.bad || e.next != to)
		diag("read [%" PRIu64 ", %" PRIu64 "): r=%d bad=%d ended at %" PRIu64, from, to, r, e.bad, e.next);
	return r == 0 && !e.bad && e.next == to;
}

/* Append records with these lengths, one batch, payload fill(seq). */
static int append_lens(struct spool *s, const size_t *lens, size_t n, uint64_t *first)
{
	uint64_t seq = spool_next(s);
	struct spool_item *items = calloc(n + 1, sizeof *items);
	unsigned char **bufs = calloc(n + 1, sizeof *bufs);
	for (size_t i = 0; i < n; i++) {
		bufs[i] = malloc(lens[i] + 1);
		fill(seq + i, bufs[i], lens[i]);
		items[i].payload = bufs[i];
		items[i].len = lens[i];
	}
	int r = spool_append(s, items, n, first);
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(items);
	return r;
}

#define RT_ITEMS 600

static size_t rt_lens[RT_ITEMS + 64];   /* by sequence number */

static void test_round_trip(void)
{
	struct spool *s = open_dir("rt", SPOOL_DEFAULT_MAX, NULL);
	ok(s != NULL, "open a new spool");
	if (!s)
		return;
	ok(spool_next(s) == 1 && spool_first(s) == 1 && spool_bytes(s) == 0, "an empty spool starts at 1");
	struct stat st;
	ok(stat(at("rt"), &st) == 0 && (st.st_mode & 07777) == 0700, "the spool directory is made 0700");

	uint64_t seq = 1, bytes = 0;
	bool firsts = true, sum = true;
	size_t batch = 1;
	while (seq <= RT_ITEMS) {
		size_t lens[20];
		size_t n = batch % 17 + 1;
		if (seq + n > RT_ITEMS + 1)
			n = RT_ITEMS + 1 - seq;
		for (size_t i = 0; i < n; i++) {
			uint64_t h = mix(seq + i);
			lens[i] = (seq + i) % 50 == 3 ? 0 : (seq + i) % 50 == 7 ? 100 * 1024 : h % (100 * 1024 + 1);
			rt_lens[seq + i] = lens[i];
			bytes += HDR + lens[i];
		}
		uint64_t first = 0;
		int r = append_lens(s, lens, n, &first);
		firsts &= r == 0 && first == seq;
		seq += n;
		sum &= spool_bytes(s) == bytes;
		batch++;
	}
	ok(firsts, "%d items in batches of 1..17: each batch gets the next sequence numbers", RT_ITEMS);
	ok(sum && spool_bytes(s) == bytes, "bytes held is the sum of the frames (%" PRIu64 ")", bytes);
	ok(spool_next(s) == RT_ITEMS + 1 && spool_first(s) == 1, "next %d, first 1", RT_ITEMS + 1);
	ok(file_size(seg_path("rt", 1)) == (long long)bytes, "one segment file named by its first seq, all the bytes");
	ok(read_all_ok(s, 1, RT_ITEMS + 1, rt_lens, RT_ITEMS + 1), "every payload (0..100 KB) reads back intact, in order");
	ok(read_all_ok(s, 250, 300, rt_lens, RT_ITEMS + 1), "a middle range reads back");
	ok(read_all_ok(s, 200, 260, rt_lens, RT_ITEMS + 1), "a range before the last read's stop reads back");
	struct expect e = { .next = 5, .lens = rt_lens, .n_lens = RT_ITEMS + 1 };
	ok(spool_read(s, 5, RT_ITEMS + 1000, check_frame, &e) == 0 && !e.bad && e.next == RT_ITEMS + 1,
	   "to past the end stops at spool_next");
	e = (struct expect){ .next = 10, .lens = rt_lens, .n_lens = RT_ITEMS + 1, .stop_at = 12 };
	ok(spool_read(s, 10, 100, check_frame, &e) == 7 && e.frames == 3 && !e.bad,
	   "the callback's nonzero return stops the read and is returned");
	e = (struct expect){ .next = 0, .lens = rt_lens, .n_lens = RT_ITEMS + 1 };
	ok(spool_read(s, 0, 10, check_frame, &e) == -ERANGE && e.frames == 0, "from below first: ERANGE");
	ok(spool_read(s, 50, 50, check_frame, &e) == 0 && e.frames == 0, "an empty range calls nothing");

	/* The bytes on disk are the format spool.h describes. */
	unsigned char h[HDR];
	int fd = open(seg_path("rt", 1), O_RDONLY);
	ok(fd >= 0 && pread(fd, h, HDR, 0) == HDR, "read the first frame header");
	if (fd >= 0)
		close(fd);
	unsigned char p0[8];
	fill(1, p0, sizeof p0);
	uint32_t len = (uint32_t)h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
	uint32_t crc = (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;
	uint64_t sq = 0;
	for (int i = 7; i >= 0; i--)
		sq = sq << 8 | h[12 + i];
	unsigned char *pl = malloc(rt_lens[1] + 1);
	fill(1, pl, rt_lens[1]);
	ok(!memcmp(h, "TFS1", 4) && len == rt_lens[1] && crc == spool_crc32c(pl, rt_lens[1]) && sq == 1,
	   "frame 1 on disk: \"TFS1\", length, CRC-32C of the payload, sequence number 1, little-endian");
	free(pl);

	/* Limits on one item. */
	unsigned char *big = calloc(1, PAYLOAD_MAX + 1);
	struct spool_item item = { big, PAYLOAD_MAX + 1 };
	uint64_t f = 0;
	ok(spool_append(s, &item, 1, &f) == -EFBIG && spool_next(s) == RT_ITEMS + 1 && spool_bytes(s) == bytes,
	   "an item over 16 MiB: EFBIG, nothing written");
	struct spool_item two[2] = { { "x", 1 }, { big, PAYLOAD_MAX + 1 } };
	ok(spool_append(s, two, 2, &f) == -EFBIG && spool_next(s) == RT_ITEMS + 1, "EFBIG in a batch: nothing of it");
	fill(RT_ITEMS + 1, big, PAYLOAD_MAX);
	item.len = PAYLOAD_MAX;
	rt_lens[RT_ITEMS + 1] = PAYLOAD_MAX;
	ok(spool_append(s, &item, 1, &f) == 0 && f == RT_ITEMS + 1, "an item of exactly 16 MiB is taken");
	ok(read_all_ok(s, RT_ITEMS + 1, RT_ITEMS + 2, rt_lens, RT_ITEMS + 2), "and reads back");
	free(big);
	ok(spool_append(s, NULL, 0, &f) == 0 && f == RT_ITEMS + 2 && spool_next(s) == RT_ITEMS + 2,
	   "an empty batch writes nothing");
	spool_close(s);

	/* Sequence numbers go on across a reopen. */
	s = open_dir("rt", SPOOL_DEFAULT_MAX, NULL);
	ok(s && spool_next(s) == RT_ITEMS + 2 && spool_first(s) == 1 &&
	   spool_bytes(s) == bytes + HDR + PAYLOAD_MAX, "reopened: the same next, first and bytes");
	if (!s)
		return;
	size_t l3[3] = { 5, 0, 77 };
	for (int i = 0; i < 3; i++)
		rt_lens[RT_ITEMS + 2 + i] = l3[i];
	ok(append_lens(s, l3, 3, &f) == 0 && f == RT_ITEMS + 2, "the first append after reopening continues the sequence");
	ok(read_all_ok(s, 1, RT_ITEMS + 5, rt_lens, RT_ITEMS + 5), "everything before and after the reopen reads back");
	spool_close(s);
}

/* ---- space ---- */

static size_t sp_lens[4096];

static void test_space(void)
{
	struct spool *s = open_dir("full", 10000, NULL);
	ok(s != NULL, "open a spool with max 10000 bytes");
	if (!s)
		return;
	size_t l1[3] = { 1000, 1000, 1000 };
	uint64_t f = 0;
	for (int i = 0; i < 3; i++)
		sp_lens[1 + i] = 1000;
	ok(append_lens(s, l1, 3, &f) == 0 && f == 1 && spool_bytes(s) == 3060, "3 x 1000 bytes: 3060 held");
	size_t l2[3] = { 3000, 3000, 3000 };
	ok(append_lens(s, l2, 3, &f) == -ENOSPC, "a batch that would pass max: ENOSPC");
	ok(spool_next(s) == 4 && spool_bytes(s) == 3060 && file_size(seg_path("full", 1)) == 3060,
	   "nothing of it is written or counted");
	ok(read_all_ok(s, 1, 4, sp_lens, 4), "the earlier records are intact");
	size_t l3[1] = { 10000 };
	ok(append_lens(s, l3, 1, &f) == -ENOSPC, "a batch bigger than max itself: ENOSPC");
	size_t l4[2] = { 3450, 3450 };   /* 3060 + 2 * 3470 == 10000 exactly */
	sp_lens[4] = sp_lens[5] = 3450;
	ok(append_lens(s, l4, 2, &f) == 0 && f == 4 && spool_bytes(s) == 10000, "a batch filling max exactly is taken");
	size_t l5[1] = { 0 };
	ok(append_lens(s, l5, 1, &f) == -ENOSPC, "then even an empty record: ENOSPC");

	ok(spool_trim(s, 5) == 0 && spool_bytes(s) == 10000 && spool_first(s) == 1,
	   "trim below the end keeps the segment still holding undelivered records");
	ok(spool_trim(s, 6) == 0 && spool_bytes(s) == 0 && spool_first(s) == 6 && spool_next(s) == 6,
	   "trim of everything gives the space back: first == next == 6");
	ok(count_segments("full") == 0, "no segment file is left");
	ok(file_size(at("full/next")) > 0, "SPOOL/next records where the sequence goes on");
	ok(spool_read(s, 1, 6, check_frame, &(struct expect){ 0 }) == -ERANGE, "the trimmed records: ERANGE");
	sp_lens[6] = 100;
	size_t l6[1] = { 100 };
	ok(append_lens(s, l6, 1, &f) == 0 && f == 6 && spool_bytes(s) == 120, "ENOSPC has cleared: the append gets 6");
	ok(file_size(seg_path("full", 6)) == 120, "in a new segment named 6");
	ok(read_all_ok(s, 6, 7, sp_lens, 7), "and reads back");

	/* Trim everything again, then reopen: the sequence must not restart. */
	ok(spool_trim(s, 7) == 0 && count_segments("full") == 0 && spool_next(s) == 7, "trim everything again");
	spool_close(s);
	s = open_dir("full", 10000, NULL);
	ok(s && spool_next(s) == 7 && spool_first(s) == 7 && spool_bytes(s) == 0,
	   "reopened with no segment: next is still 7, not 1");
	if (!s)
		return;
	sp_lens[7] = 10;
	size_t l7[1] = { 10 };
	ok(append_lens(s, l7, 1, &f) == 0 && f == 7, "the next append gets 7");
	ok(read_all_ok(s, 7, 8, sp_lens, 8), "and reads back");
	ok(spool_trim(s, 7) == 0 && spool_bytes(s) == 30 && count_segments("full") == 1,
	   "a trim not covering the current segment's records keeps it");
	spool_close(s);
	s = open_dir("full", 10000, NULL);
	ok(s && spool_next(s) == 8 && spool_first(s) == 7, "reopened: 7 is held, next 8");
	spool_close(s);

	/* A disk that fails midway through a batch (here: the file size limit). */
	s = open_dir("full", 1u << 30, NULL);
	if (!s)
		return;
	long long before = file_size(seg_path("full", 7));
	struct rlimit old, lim;
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)before + 1500;
	void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &lim);
	size_t l8[3] = { 1000, 1000, 1000 };
	int r = append_lens(s, l8, 3, &f);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, oldsig);
	ok(r == -EFBIG, "a write failing midway returns its error (%d)", r);
	ok(file_size(seg_path("full", 7)) == before && spool_next(s) == 8 && spool_bytes(s) == (uint64_t)before,
	   "and its first frames are cut off again: nothing of the batch is kept");
	sp_lens[8] = 1000;
	ok(append_lens(s, l8, 1, &f) == 0 && f == 8, "the next append gets the sequence number the failed one did not");
	ok(read_all_ok(s, 7, 9, sp_lens, 9), "7 and 8 read back");
	spool_close(s);
}

/* ---- rotation ---- */

#define ROT_BATCH 100
#define ROT_LEN   1000
#define ROT_BATCHES 700   /* 700 x 100 x 1020 bytes: past SPOOL_SEGMENT_BYTES */

static int check_rot(void *ctx, uint64_t seq, const void *payload, size_t len)
{
	struct expect *e = ctx;
	if (seq != e->next || len != ROT_LEN || !same_as_fill(seq, payload, len))
		e->bad++;
	e->next = seq + 1;
	e->frames++;
	return 0;
}

static void test_rotation(void)
{
	struct spool *s = open_dir("rot", SPOOL_DEFAULT_MAX, NULL);
	if (!s)
		return;
	size_t lens[ROT_BATCH];
	for (int i = 0; i < ROT_BATCH; i++)
		lens[i] = ROT_LEN;
	bool all = true;
	for (int b = 0; b < ROT_BATCHES; b++) {
		uint64_t f = 0;
		all &= append_lens(s, lens, ROT_BATCH, &f) == 0 && f == (uint64_t)b * ROT_BATCH + 1;
	}
	const uint64_t n = (uint64_t)ROT_BATCHES * ROT_BATCH, frame = HDR + ROT_LEN;
	ok(all, "%d batches of %d x %d bytes appended", ROT_BATCHES, ROT_BATCH, ROT_LEN);
	/* The first segment takes batches until it is at or past the limit. */
	uint64_t per_batch = ROT_BATCH * frame;
	uint64_t first_batches = (SPOOL_SEGMENT_BYTES + per_batch - 1) / per_batch;
	uint64_t second = first_batches * ROT_BATCH + 1;
	ok(count_segments("rot") == 2, "two segments");
	ok(file_size(seg_path("rot", 1)) == (long long)(first_batches * per_batch) &&
	   file_size(seg_path("rot", second)) == (long long)((n - second + 1) * frame),
	   "the second is named by its first sequence number (%" PRIu64 "), the first holds what came before", second);
	ok(spool_bytes(s) == n * frame, "bytes held counts both");
	struct expect e = { .next = 1 };
	ok(spool_read(s, 1, n + 1, check_rot, &e) == 0 && e.frames == n && !e.bad, "all %" PRIu64 " read back", n);
	e = (struct expect){ .next = second - 5 };
	ok(spool_read(s, second - 5, second + 5, check_rot, &e) == 0 && e.frames == 10 && !e.bad,
	   "a read across the segment boundary");
	spool_close(s);
	s = open_dir("rot", SPOOL_DEFAULT_MAX, NULL);
	ok(s && spool_next(s) == n + 1 && spool_bytes(s) == n * frame, "reopened with both segments");
	if (!s)
		return;
	ok(spool_trim(s, second + 3) == 0 && count_segments("rot") == 1 && file_size(seg_path("rot", 1)) < 0,
	   "trim past the boundary deletes the first segment only");
	ok(spool_first(s) == second && spool_bytes(s) == (n - second + 1) * frame, "first and bytes follow");
	ok(spool_read(s, second - 1, n, check_rot, &e) == -ERANGE, "reading trimmed records: ERANGE");
	e = (struct expect){ .next = second };
	ok(spool_read(s, second, n + 1, check_rot, &e) == 0 && e.frames == n - second + 1 && !e.bad,
	   "what is left reads back");
	spool_close(s);
	s = open_dir("rot", SPOOL_DEFAULT_MAX, NULL);
	ok(s && spool_first(s) == second && spool_next(s) == n + 1, "reopened after the trim");
	if (s)
		ok(spool_trim(s, n + 1) == 0 && count_segments("rot") == 0 && spool_bytes(s) == 0, "trim all");
	spool_close(s);
	testdir_remove(at("rot"));
}

/* ---- recovery ---- */

static int append_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, p, n);
	close(fd);
	return w == (ssize_t)n ? 0 : -1;
}

static int flip_byte(const char *path, long long off)
{
	int fd = open(path, O_RDWR);
	unsigned char c = 0;
	int r = fd >= 0 && pread(fd, &c, 1, off) == 1 ? 0 : -1;
	c ^= 0x40;
	if (r == 0 && pwrite(fd, &c, 1, off) != 1)
		r = -1;
	if (fd >= 0)
		close(fd);
	return r;
}

/* A frame as spool.h lays it out, payload fill(seq) of len bytes. */
static size_t make_frame(unsigned char *out, uint64_t seq, size_t len)
{
	fill(seq, out + HDR, len);
	uint32_t crc = spool_crc32c(out + HDR, len);
	memcpy(out, "TFS1", 4);
	for (int i = 0; i < 4; i++) {
		out[4 + i] = (unsigned char)(len >> (8 * i));
		out[8 + i] = (unsigned char)(crc >> (8 * i));
	}
	for (int i = 0; i < 8; i++)
		out[12 + i] = (unsigned char)(seq >> (8 * i));
	return HDR + len;
}

/* Write a segment file by hand: frames for seqs[0..n), each len(seq) bytes. */
static size_t hand_len(uint64_t seq)
{
	return 10 + seq * 7;
}

static void write_segment(const char *dir, uint64_t first, const uint64_t *seqs, size_t n)
{
	mkdir(at(dir), 0700);
	FILE *fp = fopen(seg_path(dir, first), "w");
	unsigned char fr[HDR + 2000];
	for (size_t i = 0; fp && i < n; i++)
		fwrite(fr, 1, make_frame(fr, seqs[i], hand_len(seqs[i])), fp);
	if (fp)
		fclose(fp);
}

static size_t tt_lens[64];

static void test_torn_tail(void)
{
	struct spool *s = open_dir("torn", SPOOL_DEFAULT_MAX, NULL);
	if (!s)
		return;
	bool all = true;
	for (uint64_t i = 1; i <= 10; i++) {
		size_t len = 50 + i;
		tt_lens[i] = len;
		uint64_t f;
		all &= append_lens(s, &len, 1, &f) == 0 && f == i;
	}
	ok(all, "ten records appended");
	spool_close(s);
	const char *seg = seg_path("torn", 1);
	long long good = file_size(seg);

	static const char garbage[] = "this is not a frame, just what a crash left";
	ok(append_file(seg, garbage, sizeof garbage - 1) == 0, "garbage appended to the segment");
	s = open_dir("torn", SPOOL_DEFAULT_MAX, NULL);
	ok(s && spool_next(s) == 11 && file_size(seg) == good, "reopen: the garbage is cut off, next is 11");
	ok(s && read_all_ok(s, 1, 11, tt_lens, 11), "the ten records are intact");
	uint64_t f = 0;
	size_t len = 60;
	tt_lens[11] = len;
	ok(s && append_lens(s, &len, 1, &f) == 0 && f == 11, "appends go on at 11");
	spool_close(s);
	good = file_size(seg);

	/* Half of frame 12, as a write cut short leaves it. */
	unsigned char fr[HDR + 200];
	size_t flen = make_frame(fr, 12, 150);
	ok(append_file(seg, fr, flen / 2) == 0, "half a frame appended");
	s = open_dir("torn", SPOOL_DEFAULT_MAX, NULL);
	ok(s && spool_next(s) == 12 && file_size(seg) == good && read_all_ok(s, 1, 12, tt_lens, 12),
	   "reopen: the half frame is cut off, 1..11 intact");
	spool_close(s);

	/* Just part of a header. */
	ok(append_file(seg, fr, 7) == 0, "seven bytes of a header appended");
	s = open_dir("torn", SPOOL_DEFAULT_MAX, NULL);
	ok(s && spool_next(s) == 12 && file_size(seg) == good, "reopen: cut off");
	spool_close(s);

	/* A header with an impossible length at the end. */
	unsigned char hdr[HDR];
	memcpy(hdr, fr, HDR);
	hdr[7] = 0x7f;
	ok(append_file(seg, hdr, HDR) == 0, "a header claiming 2 GB appended");
	s = open_dir("torn", SPOOL_DEFAULT_MAX, NULL);
	ok(s && spool_next(s) == 12 && file_size(seg) == good, "reopen: cut off");
	spool_close(s);

	/* A flipped byte in the last frame's payload: the CRC fails. */
	ok(flip_byte(seg, good - 3) == 0, "a byte of the last frame's payload flipped");
	s = open_dir("torn", SPOOL_DEFAULT_MAX, NULL);
	ok(s && spool_next(s) == 11 && file_size(seg) == good - (long long)(HDR + 60),
	   "reopen: the last frame is cut off, next is 11 again");
	ok(s && read_all_ok(s, 1, 11, tt_lens, 11), "1..10 intact");
	len = 33;
	tt_lens[11] = len;
	ok(s && append_lens(s, &len, 1, &f) == 0 && f == 11, "appends go on at 11");
	ok(s && read_all_ok(s, 1, 12, tt_lens, 12), "1..11 read back");
	spool_close(s);
	s = open_dir("torn", SPOOL_DEFAULT_MAX, NULL);
	ok(s && spool_next(s) == 12, "a clean reopen changes nothing");
	spool_close(s);

	/* A torn tail in the last segment after others: only the last is cut. */
	uint64_t a[3] = { 1, 2, 3 }, b[2] = { 4, 5 };
	write_segment("torn2", 1, a, 3);
	write_segment("torn2", 4, b, 2);
	ok(append_file(seg_path("torn2", 4), fr, 30) == 0, "a hand-made spool of two segments with a torn tail");
	size_t hl[6];
	for (uint64_t i = 1; i < 6; i++)
		hl[i] = hand_len(i);
	s = open_dir("torn2", SPOOL_DEFAULT_MAX, NULL);
	ok(s && spool_first(s) == 1 && spool_next(s) == 6 && read_all_ok(s, 1, 6, hl, 6),
	   "opens: 1..5 across both segments, the tail cut");
	ok(s && spool_bytes(s) == (uint64_t)(file_size(seg_path("torn2", 1)) + file_size(seg_path("torn2", 4))),
	   "bytes held counts both files");
	spool_close(s);
}

static bool open_fails_naming(const char *dir, const char *path, long long off)
{
	char why[512] = "";
	int e = 0;
	struct spool *s = spool_open(at(dir), SPOOL_DEFAULT_MAX, &e, why, sizeof why);
	char where[64] = "";
	if (off >= 0)
		snprintf(where, sizeof where, "byte %lld", off);
	bool good = !s && e == -EBADMSG && strstr(why, path) && strstr(why, where);
	if (!good)
		diag("open %s: %p %d \"%s\"", dir, (void *)s, e, why);
	spool_close(s);
	return good;
}

static void test_damage(void)
{
	struct spool *s = open_dir("dmg", SPOOL_DEFAULT_MAX, NULL);
	if (!s)
		return;
	long long off5 = 0;
	for (uint64_t i = 1; i <= 10; i++) {
		size_t len = 100;
		uint64_t f;
		if (i == 5)
			off5 = (long long)spool_bytes(s);
		append_lens(s, &len, 1, &f);
	}
	spool_close(s);
	const char *seg = seg_path("dmg", 1);
	long long size = file_size(seg);
	ok(flip_byte(seg, off5 + HDR + 10) == 0, "a byte of frame 5 of 10 flipped");
	ok(open_fails_naming("dmg", seg, off5), "open: EBADMSG naming the file and the byte offset");
	ok(file_size(seg) == size, "damage is not repaired: nothing cut");
	flip_byte(seg, off5 + HDR + 10);
	ok(flip_byte(seg, off5 + 1) == 0 && open_fails_naming("dmg", seg, off5),
	   "a bad magic in the middle: EBADMSG at its offset");
	flip_byte(seg, off5 + 1);
	s = open_dir("dmg", SPOOL_DEFAULT_MAX, NULL);
	ok(s && spool_next(s) == 11, "repaired by hand, it opens again");
	spool_close(s);

	/* Damage at the end of a segment that is not the last one. */
	uint64_t a[3] = { 1, 2, 3 }, b[2] = { 4, 5 };
	write_segment("dmg2", 1, a, 3);
	write_segment("dmg2", 4, b, 2);
	long long end1 = file_size(seg_path("dmg2", 1));
	ok(append_file(seg_path("dmg2", 1), "garbage", 7) == 0, "garbage after the last frame of the first of two segments");
	ok(open_fails_naming("dmg2", seg_path("dmg2", 1), end1), "open: EBADMSG, not a torn tail");
	truncate(seg_path("dmg2", 1), end1);
	ok(flip_byte(seg_path("dmg2", 1), end1 - 2) == 0, "the last frame of the first segment corrupted");
	ok(open_fails_naming("dmg2", seg_path("dmg2", 1), end1 - (long long)(HDR + hand_len(3))),
	   "open: EBADMSG at that frame");

	/* A missing segment: a gap in sequence numbers. */
	uint64_t c[2] = { 6, 7 };
	write_segment("gap", 1, a, 3);
	write_segment("gap", 6, c, 2);
	ok(open_fails_naming("gap", seg_path("gap", 6), -1), "segments 1..3 and 6..7: EBADMSG naming the second");

	/* A frame whose sequence number is not the next one. */
	uint64_t d[3] = { 1, 2, 4 };
	write_segment("seq", 1, d, 3);
	ok(open_fails_naming("seq", seg_path("seq", 1), (long long)(2 * HDR + hand_len(1) + hand_len(2))),
	   "frames 1, 2, 4: EBADMSG at the third");
	uint64_t e[2] = { 2, 3 };
	write_segment("seq2", 1, e, 2);
	ok(open_fails_naming("seq2", seg_path("seq2", 1), 0), "a segment named 1 starting with frame 2: EBADMSG");

	/* A damaged frame in the middle of the last segment, valid ones after. */
	uint64_t g[4] = { 1, 2, 3, 4 };
	write_segment("mid", 1, g, 4);
	long long off3 = (long long)(2 * HDR + hand_len(1) + hand_len(2));
	ok(flip_byte(seg_path("mid", 1), off3 + HDR) == 0 && open_fails_naming("mid", seg_path("mid", 1), off3),
	   "frame 3 of 4 corrupted in the last segment: EBADMSG, not cut");

	/* SPOOL/next that is not a number. */
	mkdir(at("badnext"), 0700);
	FILE *fp = fopen(at("badnext/next"), "w");
	if (fp) {
		fputs("12x\n", fp);
		fclose(fp);
	}
	ok(open_fails_naming("badnext", at("badnext/next"), -1), "a SPOOL/next that is not a number: EBADMSG");

	/* SPOOL/next says everything below it was delivered; segments wholly
	 * below it at open are what a trim cut short (killed between recording
	 * the floor and deleting them).  Open finishes the trim. */
	static const struct {
		const char *dir, *floor;
		bool two;             /* segments 1..3 and 4..5, else just 1..3 */
		uint64_t first, next;
		int segs;
		const char *name;
	} floors[] = {
		{ "fl-past", "6\n", false, 6, 6, 0, "a floor past the only segment: it is deleted" },
		{ "fl-end", "4\n", false, 4, 4, 0, "a floor at the end of the only segment: it is deleted" },
		{ "fl-mid", "2\n", false, 1, 4, 1, "a floor inside the only segment: kept whole" },
		{ "fl-low", "1\n", false, 1, 4, 1, "a floor at its start: kept" },
		{ "fl-two", "4\n", true, 4, 6, 1, "a floor at the second of two: the first is deleted" },
		{ "fl-two-end", "6\n", true, 6, 6, 0, "a floor at the end of two: both are deleted" },
		{ "fl-two-in", "5\n", true, 4, 6, 1, "a floor inside the second of two: the first is deleted" },
	};
	for (size_t i = 0; i < sizeof floors / sizeof floors[0]; i++) {
		write_segment(floors[i].dir, 1, a, 3);
		if (floors[i].two)
			write_segment(floors[i].dir, 4, b, 2);
		char rel[64];
		snprintf(rel, sizeof rel, "%s/next", floors[i].dir);
		fp = fopen(at(rel), "w");
		if (fp) {
			fputs(floors[i].floor, fp);
			fclose(fp);
		}
		s = open_dir(floors[i].dir, SPOOL_DEFAULT_MAX, NULL);
		size_t hl[6];
		for (uint64_t k = 1; k < 6; k++)
			hl[k] = hand_len(k);
		ok(s && spool_first(s) == floors[i].first && spool_next(s) == floors[i].next &&
		   count_segments(floors[i].dir) == floors[i].segs &&
		   read_all_ok(s, floors[i].first, floors[i].next, hl, 6), "%s", floors[i].name);
		spool_close(s);
	}

	mkdir(at("stale"), 0700);
	fp = fopen(at("stale/next.tmp.12345"), "w");   /* what a kill mid-write of SPOOL/next leaves */
	if (fp)
		fclose(fp);
	s = open_dir("stale", SPOOL_DEFAULT_MAX, NULL);
	ok(s && file_size(at("stale/next.tmp.12345")) < 0, "a killed write's temporary SPOOL/next is removed");
	spool_close(s);
}

/* ---- threads ---- */

#define THREADS 8
#define BATCHES 1000

/* A self-describing payload: thread, batch, index, length, then fill(key). */
static size_t thr_len(uint32_t t, uint32_t b, uint32_t i)
{
	return 16 + mix((uint64_t)t << 40 | (uint64_t)b << 8 | i) % 1500;
}

static void thr_make(unsigned char *p, uint32_t t, uint32_t b, uint32_t i, size_t len)
{
	uint32_t v[4] = { t, b, i, (uint32_t)len };
	memcpy(p, v, sizeof v);
	fill((uint64_t)t << 40 | (uint64_t)b << 8 | i, p + 16, len - 16);
}

static bool thr_check(const unsigned char *p, size_t len, uint32_t *t, uint32_t *b, uint32_t *i)
{
	uint32_t v[4];
	if (len < 16)
		return false;
	memcpy(v, p, sizeof v);
	*t = v[0];
	*b = v[1];
	*i = v[2];
	return v[0] < THREADS && v[1] < BATCHES && v[2] < 4 && v[3] == len && len == thr_len(v[0], v[1], v[2]) &&
	       same_as_fill((uint64_t)v[0] << 40 | (uint64_t)v[1] << 8 | v[2], p + 16, len - 16);
}

struct thr {
	struct spool *s;
	uint32_t id;
	uint64_t firsts[BATCHES];
	int errors;
};

static void *appender(void *arg)
{
	struct thr *t = arg;
	unsigned char bufs[4][16 + 1500];
	for (uint32_t b = 0; b < BATCHES; b++) {
		struct spool_item items[4];
		uint32_t n = 1 + (b + t->id) % 4;
		for (uint32_t i = 0; i < n; i++) {
			size_t len = thr_len(t->id, b, i);
			thr_make(bufs[i], t->id, b, i, len);
			items[i].payload = bufs[i];
			items[i].len = len;
		}
		if (spool_append(t->s, items, n, &t->firsts[b]) != 0)
			t->errors++;
	}
	return NULL;
}

struct reader_state {
	struct spool *s;
	atomic_int stop;
	long reads, frames, bad;
};

static int reader_frame(void *ctx, uint64_t seq, const void *payload, size_t len)
{
	struct reader_state *r = ctx;
	uint32_t t, b, i;
	(void)seq;
	r->frames++;
	if (!thr_check(payload, len, &t, &b, &i))
		r->bad++;
	return 0;
}

static void *reader(void *arg)
{
	struct reader_state *r = arg;
	while (!atomic_load(&r->stop)) {
		uint64_t to = spool_next(r->s);
		uint64_t from = to > 200 ? to - 200 : 1;
		if (spool_read(r->s, from, to, reader_frame, r) != 0)
			r->bad++;
		r->reads++;
	}
	return NULL;
}

struct owner {
	uint32_t t, b, i;
	bool set;
};

struct verify {
	struct owner *owners;
	uint64_t next;
	long bad;
};

static int verify_frame(void *ctx, uint64_t seq, const void *payload, size_t len)
{
	struct verify *v = ctx;
	uint32_t t, b, i;
	struct owner *o = &v->owners[seq];
	if (seq != v->next || !thr_check(payload, len, &t, &b, &i) || !o->set || o->t != t || o->b != b || o->i != i)
		v->bad++;
	v->next = seq + 1;
	return 0;
}

static void test_threads(void)
{
	struct spool *s = open_dir("thr", SPOOL_DEFAULT_MAX, NULL);
	if (!s)
		return;
	static struct thr th[THREADS];
	pthread_t tid[THREADS], rtid;
	struct reader_state rs = { .s = s };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_create(&rtid, NULL, reader, &rs);
	for (uint32_t k = 0; k < THREADS; k++) {
		th[k] = (struct thr){ .s = s, .id = k };
		pthread_create(&tid[k], NULL, appender, &th[k]);
	}
	int errors = 0;
	for (int k = 0; k < THREADS; k++) {
		pthread_join(tid[k], NULL);
		errors += th[k].errors;
	}
	atomic_store(&rs.stop, 1);
	pthread_join(rtid, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok(errors == 0, "%d threads x %d batches appended without error", THREADS, BATCHES);
	diag("%d batches in %.2f s", THREADS * BATCHES,
	     (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);

	uint64_t total = 0;
	for (uint32_t k = 0; k < THREADS; k++)
		for (uint32_t b = 0; b < BATCHES; b++)
			total += 1 + (b + k) % 4;
	struct owner *owners = calloc(total + 2, sizeof *owners);
	bool distinct = true;
	for (uint32_t k = 0; k < THREADS; k++)
		for (uint32_t b = 0; b < BATCHES; b++)
			for (uint32_t i = 0; i < 1 + (b + k) % 4; i++) {
				uint64_t seq = th[k].firsts[b] + i;
				if (seq < 1 || seq > total || owners[seq].set) {
					distinct = false;
					continue;
				}
				owners[seq] = (struct owner){ k, b, i, true };
			}
	ok(distinct && spool_next(s) == total + 1,
	   "the %" PRIu64 " sequence numbers are distinct and exactly 1..%" PRIu64, total, total);
	struct verify v = { .owners = owners, .next = 1 };
	ok(spool_read(s, 1, total + 1, verify_frame, &v) == 0 && v.bad == 0 && v.next == total + 1,
	   "every frame reads back intact, where its batch's first said");
	ok(rs.bad == 0 && rs.reads > 0, "a reader running alongside saw only whole frames (%ld reads, %ld frames)",
	   rs.reads, rs.frames);
	spool_close(s);
	s = open_dir("thr", SPOOL_DEFAULT_MAX, NULL);
	v = (struct verify){ .owners = owners, .next = 1 };
	ok(s && spool_read(s, 1, total + 1, verify_frame, &v) == 0 && v.bad == 0 && v.next == total + 1,
	   "and again after reopening");
	spool_close(s);
	free(owners);
}

/* ---- kill -9 ---- */

#define CRASH_ROUNDS 10
#define CRASH_BIG    (2u * 1024 * 1024)   /* the largest record */

static size_t crash_len(uint64_t seq)
{
	uint64_t h = mix(seq * 31 + 7);
	switch (h % 16) {
	case 0:
		return 0;
	case 1:
		return CRASH_BIG / 4 + h % (CRASH_BIG * 3 / 4);   /* so a kill can land mid-write */
	default:
		return 50 + h % 2500;
	}
}

static int crash_check(void *ctx, uint64_t seq, const void *payload, size_t len)
{
	struct expect *e = ctx;
	if (seq != e->next || len != crash_len(seq) || !same_as_fill(seq, payload, len))
		e->bad++;
	e->next = seq + 1;
	e->frames++;
	return 0;
}

static void crash_child(int wfd)
{
	struct spool *s = open_dir("crash", SPOOL_DEFAULT_MAX, NULL);
	if (!s)
		_exit(2);
	unsigned char *bufs[8];
	for (int i = 0; i < 8; i++)
		if (!(bufs[i] = malloc(CRASH_BIG)))
			_exit(2);
	for (;;) {
		uint64_t seq = spool_next(s);
		size_t n = 1 + mix(seq) % 8;
		struct spool_item items[8];
		for (size_t i = 0; i < n; i++) {
			items[i].len = crash_len(seq + i);
			fill(seq + i, bufs[i], items[i].len);
			items[i].payload = bufs[i];
		}
		uint64_t first;
		if (spool_append(s, items, n, &first) != 0 || first != seq)
			_exit(3);
		uint64_t acked = seq + n;   /* everything below is acknowledged */
		if (write(wfd, &acked, sizeof acked) != sizeof acked)
			_exit(4);
	}
}

static void test_crash(void)
{
	uint64_t total_acked = 0;
	int rounds_ok = 0, torn = 0;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (int round = 0; round < CRASH_ROUNDS; round++) {
		int pfd[2];
		if (pipe(pfd) < 0)
			return;
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			crash_child(pfd[1]);
		}
		close(pfd[1]);
		uint64_t acked = 0, v;
		struct timespec t0, now;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		long wait_ms = 30 + rand() % 300;
		for (;;) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			long el = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
			if (el >= wait_ms)
				break;
			struct pollfd p = { .fd = pfd[0], .events = POLLIN };
			if (poll(&p, 1, (int)(wait_ms - el)) > 0) {
				ssize_t k = read(pfd[0], &v, sizeof v);
				if (k == sizeof v)
					acked = v;
				else if (k <= 0)
					break;
			}
		}
		/* Most of the child's time goes to fdatasync.  To land in a write
		 * more often, half the kills come a moment after an acknowledgement,
		 * while the next batch is being built and written. */
		if (round % 2) {
			struct pollfd p = { .fd = pfd[0], .events = POLLIN };
			if (poll(&p, 1, 1000) > 0 && read(pfd[0], &v, sizeof v) == sizeof v)
				acked = v;
			usleep((useconds_t)(rand() % 4000));
		}
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		while (read(pfd[0], &v, sizeof v) == sizeof v)
			acked = v;
		close(pfd[0]);
		bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;

		long long on_disk = 0;
		DIR *d = opendir(at("crash"));
		for (struct dirent *de; d && (de = readdir(d));) {
			char path[sizeof root + sizeof "/crash/" + sizeof de->d_name];
			snprintf(path, sizeof path, "%s/crash/%s", root, de->d_name);
			if (strstr(de->d_name, ".seg"))
				on_disk += file_size(path);
		}
		if (d)
			closedir(d);
		struct spool *s = open_dir("crash", SPOOL_DEFAULT_MAX, NULL);
		bool good = killed && s && spool_next(s) >= acked;
		torn += s && (long long)spool_bytes(s) < on_disk;
		if (s) {
			struct expect e = { .next = spool_first(s) };
			uint64_t next = spool_next(s);
			good &= spool_first(s) == 1 && spool_read(s, 1, next, crash_check, &e) == 0 && !e.bad &&
				e.next == next;
			spool_close(s);
		}
		if (!good)
			diag("round %d: killed %d, acknowledged below %" PRIu64, round, killed, acked);
		rounds_ok += good;
		if (acked > total_acked)
			total_acked = acked;
	}
	ok(rounds_ok == CRASH_ROUNDS, "kill -9 at random moments, %d times: every acknowledged record is there and "
	   "intact, and every frame kept is whole (%" PRIu64 " acknowledged in all)", CRASH_ROUNDS, total_acked - 1);
	ok(total_acked > 1, "the children did get records acknowledged");
	diag("%d of the kills left a torn tail to cut", torn);
}

int main(void)
{
	testdir_make(root, sizeof root);
	test_crc();
	test_round_trip();
	test_space();
	test_rotation();
	test_torn_tail();
	test_damage();
	test_threads();
	test_crash();
	testdir_remove(root);
	return tap_done();
}
