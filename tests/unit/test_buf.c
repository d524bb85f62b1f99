/* Unit tests for backend/buf.c: the capped buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

int main(void)
{
	struct buf b;
	buf_init(&b, 8);
	ok(!strcmp(buf_str(&b), "") && b.len == 0, "a new buffer reads as \"\"");
	ok(buf_puts(&b, "abcd") == 0 && b.len == 4 && !strcmp(b.data, "abcd"), "append");
	ok(buf_printf(&b, "%d", 1234) == 0 && !strcmp(b.data, "abcd1234"), "printf up to the cap");
	ok(buf_putc(&b, 'x') == -E2BIG && !strcmp(b.data, "abcd1234"), "past the cap: E2BIG, unchanged");
	ok(buf_printf(&b, "%s", "y") == -E2BIG && b.len == 8, "printf past the cap: E2BIG");
	buf_reset(&b);
	ok(b.len == 0 && !strcmp(buf_str(&b), ""), "reset empties");
	ok(buf_add(&b, "a\0b", 3) == 0 && b.len == 3 && b.data[3] == '\0', "binary data, terminated");
	char *taken = buf_take(&b);
	ok(taken && !memcmp(taken, "a\0b", 3) && b.data == NULL && b.len == 0, "take hands it over");
	free(taken);
	taken = buf_take(&b);
	ok(taken && !strcmp(taken, ""), "take of an empty buffer gives \"\"");
	free(taken);

	struct buf big;
	buf_init(&big, 1 << 20);
	int r = 0;
	for (int i = 0; r == 0 && i < 100000; i++)
		r = buf_printf(&big, "%05d", i % 100000);
	ok(r == 0 && big.len == 500000, "grows to half a megabyte");
	ok(!memcmp(big.data + 499995, "99999", 5), "contents intact after growth");
	ok(buf_add(&big, big.data, 600000) == -E2BIG, "a big append past the cap fails whole");
	ok(big.len == 500000, "and leaves it unchanged");
	buf_release(&big);
	buf_release(&b);
	return tap_done();
}
