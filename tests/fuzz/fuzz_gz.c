/* Fuzz harness for backend/gz.c.
 *
 * Feeds the input to gz_decompress as a gzip member (at most 1 MiB out) and
 * aborts when a promise of gz.h is broken:
 *   - the result is 0, -EINVAL or -E2BIG, and a failure appends nothing;
 *   - what is accepted fits max, and its length is what the member declares
 *     (ISIZE), which gz_declared_size reads;
 * then compresses the input and inflates it back, which must give the input
 * exactly, at a level taken from the input's first byte. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gz.h"

#define FUZZ_OUT_MAX   (1024 * 1024)
#define FUZZ_BUF_MAX   (64 * 1024 * 1024)

static void check_decompress(const uint8_t *data, size_t size)
{
	struct buf out;
	buf_init(&out, FUZZ_BUF_MAX);
	int r = gz_decompress(data, size, FUZZ_OUT_MAX, &out);
	if (r == 0) {
		if (out.len > FUZZ_OUT_MAX)
			abort();
		if (gz_declared_size(data, size) != (long long)(uint32_t)out.len)
			abort();
	} else if ((r != -EINVAL && r != -E2BIG) || out.len != 0) {
		abort();
	}
	buf_release(&out);
}

static void check_round_trip(const uint8_t *data, size_t size)
{
	/* Levels 1-12 from the first byte, so the corpus reaches all of them
	 * without any level paying for every input. */
	int level = size ? 1 + data[0] % 12 : GZ_LEVEL_DEFAULT;
	struct buf gz, back;
	buf_init(&gz, FUZZ_BUF_MAX);
	buf_init(&back, FUZZ_BUF_MAX);
	if (gz_compress(data, size, level, &gz) != 0)
		abort();
	if (gz_declared_size(gz.data, gz.len) != (long long)(uint32_t)size)
		abort();
	if (gz_decompress(gz.data, gz.len, size, &back) != 0)
		abort();
	if (back.len != size || (size && memcmp(back.data, data, size) != 0))
		abort();
	buf_release(&back);
	buf_release(&gz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decompress(data, size);
	check_round_trip(data, size);
	return 0;
}
