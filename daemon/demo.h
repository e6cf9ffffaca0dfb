/* demo — the demo chat page that the WebSocket listener serves at / with
 * its assets when --demo is on (zwsd(8) OPTIONS, README "Demo page").
 *
 * Pure data, no I/O: demo_pages() is the table that gate.c puts in the
 * handshake configuration (handshake.h, hs_page_t) while opt->demo is set,
 * so handshake.c answers GET and HEAD of these paths with 200 and any other
 * method with 405; with --demo off the same paths stay 404. Every answer
 * carries Cache-Control: no-cache, X-Content-Type-Options: nosniff and a
 * Content-Security-Policy that lets the page load only its own files and
 * open WebSockets (default-src 'self'; connect-src 'self' ws: wss:).
 *
 * The bytes are demo/index.html, demo.css, demo.js and favicon.svg, turned into
 * C arrays at build time ($(BUILD)/gen/demo_assets.c, see the Makefile), so
 * an installed zwsd needs no files. The table and the bytes are static:
 * nobody frees them. */
#ifndef ZWSD_DEMO_H
#define ZWSD_DEMO_H

#include <stddef.h>

#include "handshake.h"

/* The pages, *n of them; lives as long as the process. */
const hs_page_t *demo_pages(size_t *n);

/* ---- internal: the generated file and demo.c only ------------------------ */
extern const unsigned char demo_index_html[];
extern const size_t demo_index_html_len;
extern const unsigned char demo_demo_css[];
extern const size_t demo_demo_css_len;
extern const unsigned char demo_demo_js[];
extern const size_t demo_demo_js_len;
extern const unsigned char demo_favicon_svg[];
extern const size_t demo_favicon_svg_len;

#endif
