/* demo — see demo.h. */
#include "demo.h"

/* no-cache: a browser revalidates, so a page never outlives the daemon that
 * served it (there is no ETag: it just gets the bytes again). The policy
 * allows the page's own files and WebSockets to any host, nothing inline,
 * no frames, no forms posted anywhere. */
#define S_HEADERS                                                                          \
    "Cache-Control: no-cache\r\n"                                                          \
    "X-Content-Type-Options: nosniff\r\n"                                                  \
    "Content-Security-Policy: default-src 'self'; connect-src 'self' ws: wss:; "           \
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'\r\n"                      \
    "Referrer-Policy: no-referrer\r\n"

const hs_page_t *
demo_pages(size_t *n)
{
    /* sizes are known only at link time: the table is filled on first use
     * (a worker is one thread) */
    static hs_page_t pages[4];
    if (!pages[0].path) {
        pages[0] = (hs_page_t){ "/", "text/html; charset=utf-8", S_HEADERS, demo_index_html,
                                demo_index_html_len };
        pages[1] = (hs_page_t){ "/demo.css", "text/css; charset=utf-8", S_HEADERS, demo_demo_css,
                                demo_demo_css_len };
        pages[2] = (hs_page_t){ "/demo.js", "text/javascript; charset=utf-8", S_HEADERS,
                                demo_demo_js, demo_demo_js_len };
        pages[3] = (hs_page_t){ "/favicon.svg", "image/svg+xml", S_HEADERS, demo_favicon_svg,
                                demo_favicon_svg_len };
    }
    *n = sizeof pages / sizeof *pages;
    return pages;
}
