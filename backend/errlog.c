#include "errlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"

#define ERRLOG_LINE_MAX 4096
#define ERRLOG_FILE_MAX (CT_ERRORS_KEPT * (size_t)ERRLOG_LINE_MAX * 2)

/* Keep a line, dropping the oldest when full.  Takes ownership of line. */
static void keep(struct errlog *l, char *line)
{
	if (l->count == CT_ERRORS_KEPT) {
		free(l->lines[l->head]);
		l->lines[l->head] = line;
		l->head = (l->head + 1) % CT_ERRORS_KEPT;
	} else {
		l->lines[(l->head + l->count) % CT_ERRORS_KEPT] = line;
		l->count++;
	}
}

int errlog_init(struct errlog *l, const char *path)
{
	memset(l, 0, sizeof *l);
	pthread_mutex_init(&l->lock, NULL);
	if (!path)
		return 0;
	l->path = strdup(path);
	if (!l->path)
		return -ENOMEM;
	struct buf text;
	buf_init(&text, ERRLOG_FILE_MAX);
	int r = read_file(path, &text);
	if (r == -ENOENT) {
		buf_release(&text);
		return 0;
	}
	if (r < 0) {
		buf_release(&text);
		return r;
	}
	char *save = NULL;
	for (char *line = strtok_r(text.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *copy = strdup(line);
		if (!copy)
			break;
		keep(l, copy);
		l->file_lines++;
	}
	buf_release(&text);
	return 0;
}

void errlog_release(struct errlog *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->lines[(l->head + i) % CT_ERRORS_KEPT]);
	free(l->path);
	pthread_mutex_destroy(&l->lock);
	memset(l, 0, sizeof *l);
}

static int render_locked(struct errlog *l, struct buf *out)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < l->count; i++) {
		r = buf_puts(out, l->lines[(l->head + i) % CT_ERRORS_KEPT]);
		if (r == 0)
			r = buf_putc(out, '\n');
	}
	return r;
}

/* The file is a convenience for restarts, not a record that must be durable:
 * appends are not fsynced, and a failure to write it is not an error. */
static void append_to_file(struct errlog *l, const char *line)
{
	if (!l->path)
		return;
	if (l->file_lines >= 2 * CT_ERRORS_KEPT) {
		struct buf all;
		buf_init(&all, ERRLOG_FILE_MAX);
		if (render_locked(l, &all) == 0 &&
		    write_file_durable(l->path, all.data, all.len, 0600) == 0)
			l->file_lines = l->count;
		buf_release(&all);
		return;  /* the line is already among the kept ones */
	}
	int fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write_all(fd, line, strlen(line)) == 0 && write_all(fd, "\n", 1) == 0)
		l->file_lines++;
	close(fd);
}

void errlog_add(struct errlog *l, const char *line)
{
	struct buf clean;
	buf_init(&clean, ERRLOG_LINE_MAX);
	for (const unsigned char *p = (const unsigned char *)line; *p; p++) {
		int r = (*p < 0x20 || *p == 0x7f) ? buf_printf(&clean, "\\x%02x", *p)
						  : buf_putc(&clean, (char)*p);
		if (r < 0)
			break;   /* over-long lines are cut, not dropped */
	}
	char *copy = buf_take(&clean);
	if (!copy)
		return;
	pthread_mutex_lock(&l->lock);
	keep(l, copy);
	append_to_file(l, copy);
	pthread_mutex_unlock(&l->lock);
}

int errlog_render(struct errlog *l, struct buf *out)
{
	pthread_mutex_lock(&l->lock);
	int r = render_locked(l, out);
	pthread_mutex_unlock(&l->lock);
	return r;
}
