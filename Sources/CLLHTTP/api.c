/* llhttp 9.3.0 (MIT, see LICENSE), as SwiftNIO vendors it in Sources/CNIOLLHTTP, with its c_nio_ symbol
   prefix renamed hermes_ so that it links beside NIO's copy. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "include/hermes_llhttp.h"

#define CALLBACK_MAYBE(PARSER, NAME)                                          \
  do {                                                                        \
    const hermes_llhttp_settings_t* settings;                                        \
    settings = (const hermes_llhttp_settings_t*) (PARSER)->settings;                 \
    if (settings == NULL || settings->NAME == NULL) {                         \
      err = 0;                                                                \
      break;                                                                  \
    }                                                                         \
    err = settings->NAME((PARSER));                                           \
  } while (0)

#define SPAN_CALLBACK_MAYBE(PARSER, NAME, START, LEN)                         \
  do {                                                                        \
    const hermes_llhttp_settings_t* settings;                                        \
    settings = (const hermes_llhttp_settings_t*) (PARSER)->settings;                 \
    if (settings == NULL || settings->NAME == NULL) {                         \
      err = 0;                                                                \
      break;                                                                  \
    }                                                                         \
    err = settings->NAME((PARSER), (START), (LEN));                           \
    if (err == -1) {                                                          \
      err = HPE_USER;                                                         \
      hermes_llhttp_set_error_reason((PARSER), "Span callback error in " #NAME);     \
    }                                                                         \
  } while (0)

void hermes_llhttp_init(hermes_llhttp_t* parser, hermes_llhttp_type_t type,
                 const hermes_llhttp_settings_t* settings) {
  hermes_llhttp__internal_init(parser);

  parser->type = type;
  parser->settings = (void*) settings;
}


#if defined(__wasm__)

extern int wasm_on_message_begin(hermes_llhttp_t * p);
extern int wasm_on_url(hermes_llhttp_t* p, const char* at, size_t length);
extern int wasm_on_status(hermes_llhttp_t* p, const char* at, size_t length);
extern int wasm_on_header_field(hermes_llhttp_t* p, const char* at, size_t length);
extern int wasm_on_header_value(hermes_llhttp_t* p, const char* at, size_t length);
extern int wasm_on_headers_complete(hermes_llhttp_t * p, int status_code,
                                    uint8_t upgrade, int should_keep_alive);
extern int wasm_on_body(hermes_llhttp_t* p, const char* at, size_t length);
extern int wasm_on_message_complete(hermes_llhttp_t * p);

static int wasm_on_headers_complete_wrap(hermes_llhttp_t* p) {
  return wasm_on_headers_complete(p, p->status_code, p->upgrade,
                                  hermes_llhttp_should_keep_alive(p));
}

const hermes_llhttp_settings_t wasm_settings = {
  .on_message_begin = wasm_on_message_begin,
  .on_url = wasm_on_url,
  .on_status = wasm_on_status,
  .on_header_field = wasm_on_header_field,
  .on_header_value = wasm_on_header_value,
  .on_headers_complete = wasm_on_headers_complete_wrap,
  .on_body = wasm_on_body,
  .on_message_complete = wasm_on_message_complete,
};


hermes_llhttp_t* hermes_llhttp_alloc(hermes_llhttp_type_t type) {
  hermes_llhttp_t* parser = malloc(sizeof(hermes_llhttp_t));
  hermes_llhttp_init(parser, type, &wasm_settings);
  return parser;
}

void hermes_llhttp_free(hermes_llhttp_t* parser) {
  free(parser);
}

#endif  // defined(__wasm__)

/* Some getters required to get stuff from the parser */

uint8_t hermes_llhttp_get_type(hermes_llhttp_t* parser) {
  return parser->type;
}

uint8_t hermes_llhttp_get_http_major(hermes_llhttp_t* parser) {
  return parser->http_major;
}

uint8_t hermes_llhttp_get_http_minor(hermes_llhttp_t* parser) {
  return parser->http_minor;
}

uint8_t hermes_llhttp_get_method(hermes_llhttp_t* parser) {
  return parser->method;
}

int hermes_llhttp_get_status_code(hermes_llhttp_t* parser) {
  return parser->status_code;
}

uint8_t hermes_llhttp_get_upgrade(hermes_llhttp_t* parser) {
  return parser->upgrade;
}


void hermes_llhttp_reset(hermes_llhttp_t* parser) {
  hermes_llhttp_type_t type = parser->type;
  const hermes_llhttp_settings_t* settings = parser->settings;
  void* data = parser->data;
  uint16_t lenient_flags = parser->lenient_flags;

  hermes_llhttp__internal_init(parser);

  parser->type = type;
  parser->settings = (void*) settings;
  parser->data = data;
  parser->lenient_flags = lenient_flags;
}


hermes_llhttp_errno_t hermes_llhttp_execute(hermes_llhttp_t* parser, const char* data, size_t len) {
  return hermes_llhttp__internal_execute(parser, data, data + len);
}


void hermes_llhttp_settings_init(hermes_llhttp_settings_t* settings) {
  memset(settings, 0, sizeof(*settings));
}


hermes_llhttp_errno_t hermes_llhttp_finish(hermes_llhttp_t* parser) {
  int err;

  /* We're in an error state. Don't bother doing anything. */
  if (parser->error != 0) {
    return 0;
  }

  switch (parser->finish) {
    case HTTP_FINISH_SAFE_WITH_CB:
      CALLBACK_MAYBE(parser, on_message_complete);
      if (err != HPE_OK) return err;

    /* FALLTHROUGH */
    case HTTP_FINISH_SAFE:
      return HPE_OK;
    case HTTP_FINISH_UNSAFE:
      parser->reason = "Invalid EOF state";
      return HPE_INVALID_EOF_STATE;
    default:
      abort();
  }
}


void hermes_llhttp_pause(hermes_llhttp_t* parser) {
  if (parser->error != HPE_OK) {
    return;
  }

  parser->error = HPE_PAUSED;
  parser->reason = "Paused";
}


void hermes_llhttp_resume(hermes_llhttp_t* parser) {
  if (parser->error != HPE_PAUSED) {
    return;
  }

  parser->error = 0;
}


void hermes_llhttp_resume_after_upgrade(hermes_llhttp_t* parser) {
  if (parser->error != HPE_PAUSED_UPGRADE) {
    return;
  }

  parser->error = 0;
}


hermes_llhttp_errno_t hermes_llhttp_get_errno(const hermes_llhttp_t* parser) {
  return parser->error;
}


const char* hermes_llhttp_get_error_reason(const hermes_llhttp_t* parser) {
  return parser->reason;
}


void hermes_llhttp_set_error_reason(hermes_llhttp_t* parser, const char* reason) {
  parser->reason = reason;
}


const char* hermes_llhttp_get_error_pos(const hermes_llhttp_t* parser) {
  return parser->error_pos;
}


const char* hermes_llhttp_errno_name(hermes_llhttp_errno_t err) {
#define HTTP_ERRNO_GEN(CODE, NAME, _) case HPE_##NAME: return "HPE_" #NAME;
  switch (err) {
    HTTP_ERRNO_MAP(HTTP_ERRNO_GEN)
    default: abort();
  }
#undef HTTP_ERRNO_GEN
}


const char* hermes_llhttp_method_name(hermes_llhttp_method_t method) {
#define HTTP_METHOD_GEN(NUM, NAME, STRING) case HTTP_##NAME: return #STRING;
  switch (method) {
    HTTP_ALL_METHOD_MAP(HTTP_METHOD_GEN)
    default: abort();
  }
#undef HTTP_METHOD_GEN
}

const char* hermes_llhttp_status_name(hermes_llhttp_status_t status) {
#define HTTP_STATUS_GEN(NUM, NAME, STRING) case HTTP_STATUS_##NAME: return #STRING;
  switch (status) {
    HTTP_STATUS_MAP(HTTP_STATUS_GEN)
    default: abort();
  }
#undef HTTP_STATUS_GEN
}


void hermes_llhttp_set_lenient_headers(hermes_llhttp_t* parser, int enabled) {
  if (enabled) {
    parser->lenient_flags |= LENIENT_HEADERS;
  } else {
    parser->lenient_flags &= ~LENIENT_HEADERS;
  }
}


void hermes_llhttp_set_lenient_chunked_length(hermes_llhttp_t* parser, int enabled) {
  if (enabled) {
    parser->lenient_flags |= LENIENT_CHUNKED_LENGTH;
  } else {
    parser->lenient_flags &= ~LENIENT_CHUNKED_LENGTH;
  }
}


void hermes_llhttp_set_lenient_keep_alive(hermes_llhttp_t* parser, int enabled) {
  if (enabled) {
    parser->lenient_flags |= LENIENT_KEEP_ALIVE;
  } else {
    parser->lenient_flags &= ~LENIENT_KEEP_ALIVE;
  }
}

void hermes_llhttp_set_lenient_transfer_encoding(hermes_llhttp_t* parser, int enabled) {
  if (enabled) {
    parser->lenient_flags |= LENIENT_TRANSFER_ENCODING;
  } else {
    parser->lenient_flags &= ~LENIENT_TRANSFER_ENCODING;
  }
}

void hermes_llhttp_set_lenient_version(hermes_llhttp_t* parser, int enabled) {
  if (enabled) {
    parser->lenient_flags |= LENIENT_VERSION;
  } else {
    parser->lenient_flags &= ~LENIENT_VERSION;
  }
}

void hermes_llhttp_set_lenient_data_after_close(hermes_llhttp_t* parser, int enabled) {
  if (enabled) {
    parser->lenient_flags |= LENIENT_DATA_AFTER_CLOSE;
  } else {
    parser->lenient_flags &= ~LENIENT_DATA_AFTER_CLOSE;
  }
}

void hermes_llhttp_set_lenient_optional_lf_after_cr(hermes_llhttp_t* parser, int enabled) {
  if (enabled) {
    parser->lenient_flags |= LENIENT_OPTIONAL_LF_AFTER_CR;
  } else {
    parser->lenient_flags &= ~LENIENT_OPTIONAL_LF_AFTER_CR;
  }
}

void hermes_llhttp_set_lenient_optional_crlf_after_chunk(hermes_llhttp_t* parser, int enabled) {
  if (enabled) {
    parser->lenient_flags |= LENIENT_OPTIONAL_CRLF_AFTER_CHUNK;
  } else {
    parser->lenient_flags &= ~LENIENT_OPTIONAL_CRLF_AFTER_CHUNK;
  }
}

void hermes_llhttp_set_lenient_optional_cr_before_lf(hermes_llhttp_t* parser, int enabled) {
  if (enabled) {
    parser->lenient_flags |= LENIENT_OPTIONAL_CR_BEFORE_LF;
  } else {
    parser->lenient_flags &= ~LENIENT_OPTIONAL_CR_BEFORE_LF;
  }
}

void hermes_llhttp_set_lenient_spaces_after_chunk_size(hermes_llhttp_t* parser, int enabled) {
  if (enabled) {
    parser->lenient_flags |= LENIENT_SPACES_AFTER_CHUNK_SIZE;
  } else {
    parser->lenient_flags &= ~LENIENT_SPACES_AFTER_CHUNK_SIZE;
  }
}

/* Callbacks */


int hermes_llhttp__on_message_begin(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_message_begin);
  return err;
}


int hermes_llhttp__on_protocol(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  SPAN_CALLBACK_MAYBE(s, on_protocol, p, endp - p);
  return err;
}


int hermes_llhttp__on_protocol_complete(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_protocol_complete);
  return err;
}


int hermes_llhttp__on_url(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  SPAN_CALLBACK_MAYBE(s, on_url, p, endp - p);
  return err;
}


int hermes_llhttp__on_url_complete(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_url_complete);
  return err;
}


int hermes_llhttp__on_status(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  SPAN_CALLBACK_MAYBE(s, on_status, p, endp - p);
  return err;
}


int hermes_llhttp__on_status_complete(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_status_complete);
  return err;
}


int hermes_llhttp__on_method(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  SPAN_CALLBACK_MAYBE(s, on_method, p, endp - p);
  return err;
}


int hermes_llhttp__on_method_complete(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_method_complete);
  return err;
}


int hermes_llhttp__on_version(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  SPAN_CALLBACK_MAYBE(s, on_version, p, endp - p);
  return err;
}


int hermes_llhttp__on_version_complete(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_version_complete);
  return err;
}


int hermes_llhttp__on_header_field(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  SPAN_CALLBACK_MAYBE(s, on_header_field, p, endp - p);
  return err;
}


int hermes_llhttp__on_header_field_complete(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_header_field_complete);
  return err;
}


int hermes_llhttp__on_header_value(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  SPAN_CALLBACK_MAYBE(s, on_header_value, p, endp - p);
  return err;
}


int hermes_llhttp__on_header_value_complete(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_header_value_complete);
  return err;
}


int hermes_llhttp__on_headers_complete(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_headers_complete);
  return err;
}


int hermes_llhttp__on_message_complete(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_message_complete);
  return err;
}


int hermes_llhttp__on_body(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  SPAN_CALLBACK_MAYBE(s, on_body, p, endp - p);
  return err;
}


int hermes_llhttp__on_chunk_header(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_chunk_header);
  return err;
}


int hermes_llhttp__on_chunk_extension_name(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  SPAN_CALLBACK_MAYBE(s, on_chunk_extension_name, p, endp - p);
  return err;
}


int hermes_llhttp__on_chunk_extension_name_complete(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_chunk_extension_name_complete);
  return err;
}


int hermes_llhttp__on_chunk_extension_value(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  SPAN_CALLBACK_MAYBE(s, on_chunk_extension_value, p, endp - p);
  return err;
}


int hermes_llhttp__on_chunk_extension_value_complete(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_chunk_extension_value_complete);
  return err;
}


int hermes_llhttp__on_chunk_complete(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_chunk_complete);
  return err;
}


int hermes_llhttp__on_reset(hermes_llhttp_t* s, const char* p, const char* endp) {
  int err;
  CALLBACK_MAYBE(s, on_reset);
  return err;
}


/* Private */


void hermes_llhttp__debug(hermes_llhttp_t* s, const char* p, const char* endp,
                   const char* msg) {
  if (p == endp) {
    fprintf(stderr, "p=%p type=%d flags=%02x next=null debug=%s\n", s, s->type,
            s->flags, msg);
  } else {
    fprintf(stderr, "p=%p type=%d flags=%02x next=%02x   debug=%s\n", s,
            s->type, s->flags, *p, msg);
  }
}
