/* replay.c -- run a fuzz target over files without libFuzzer.
 *
 *   replay_TARGET [-q] PATH...
 *
 * Each PATH is a file or a directory; a directory's regular files are read in
 * name order (not recursively; names starting with '.' are skipped).  Every
 * file is passed once to LLVMFuzzerTestOneInput.  A target reports a failure
 * by aborting, so reaching the end means every input passed; the file being
 * run is named on stderr if the process dies (signal or sanitizer report).
 * Exit status: 0 all passed, 1 a file or directory could not be read, 2 usage.
 * Used by `make fuzz-smoke` (and so by `make check`) to replay fuzz/corpus/. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define REPLAY_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_SANITIZER 1
#endif

#ifdef REPLAY_SANITIZER
void __sanitizer_set_death_callback(void (*callback)(void));
#endif

/* The input being run, for the crash message (this is a test driver). */
static char current[4096];

static void say_current(void) {
  static const char pre[] = "replay: crashed while running ";
  if (!current[0]) return;
  if (write(2, pre, sizeof pre - 1) < 0) return;
  if (write(2, current, strlen(current)) < 0) return;
  if (write(2, "\n", 1) < 0) return;
}

static void on_signal(int sig) {
  say_current();
  signal(sig, SIG_DFL);
  raise(sig);
}

static int run_file(const char *path, long *count) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return 1;
  }
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (!buf) {
      fprintf(stderr, "replay: out of memory\n");
      fclose(f);
      return 1;
    }
    len += fread(buf + len, 1, cap - len, f);
    if (len < cap) break;
    uint8_t *nb = realloc(buf, cap * 2);
    if (!nb) free(buf);
    buf = nb;
    cap *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    fprintf(stderr, "replay: %s: read error\n", path);
    free(buf);
    return 1;
  }
  snprintf(current, sizeof current, "%s", path);
  /* an exact-size copy, so that ASan sees reads past the end */
  uint8_t *exact = malloc(len ? len : 1);
  if (!exact) {
    free(buf);
    return 1;
  }
  memcpy(exact, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  current[0] = 0;
  (*count)++;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, long *count) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
    return 1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **nn = realloc(names, cap * sizeof *names);
      if (!nn) {
        rc = 1;
        break;
      }
      names = nn;
    }
    size_t need = strlen(dir) + strlen(e->d_name) + 2;
    names[n] = malloc(need);
    if (!names[n]) {
      rc = 1;
      break;
    }
    snprintf(names[n], need, "%s/%s", dir, e->d_name);
    n++;
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) rc |= run_file(names[i], count);
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  int quiet = 0, rc = 0, ai = 1;
  long count = 0;
  if (ai < argc && strcmp(argv[ai], "-q") == 0) {
    quiet = 1;
    ai++;
  }
  if (ai >= argc) {
    fprintf(stderr, "usage: %s [-q] FILE-OR-DIR...\n", argv[0]);
    return 2;
  }
  signal(SIGSEGV, on_signal);
  signal(SIGBUS, on_signal);
  signal(SIGFPE, on_signal);
  signal(SIGILL, on_signal);
  signal(SIGABRT, on_signal);
#ifdef REPLAY_SANITIZER
  __sanitizer_set_death_callback(say_current);
#endif
  for (; ai < argc; ai++) {
    struct stat st;
    if (stat(argv[ai], &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[ai], strerror(errno));
      rc = 1;
    } else if (S_ISDIR(st.st_mode)) {
      rc |= run_dir(argv[ai], &count);
    } else {
      rc |= run_file(argv[ai], &count);
    }
  }
  if (!quiet) fprintf(stderr, "replay: %s: %ld inputs passed\n", argv[0], count);
  return rc;
}
