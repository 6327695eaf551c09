#ifndef HERMES_CLLHTTP_H
#define HERMES_CLLHTTP_H

#include "hermes_llhttp.h"

/// `hermes_llhttp_execute` with the bytes as `void *`, as Swift hands over a raw buffer.
static inline hermes_llhttp_errno_t hermes_llhttp_execute_bytes(hermes_llhttp_t *parser, const void *data, size_t length) {
    return hermes_llhttp_execute(parser, (const char *)data, length);
}

#endif
