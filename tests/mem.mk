# tests/mem.mk -- the page-tracked memory tests (unit_pagemap) run reader
# threads against a writer: link pthreads into the test programs.
TEST_LIBS += -lpthread
