/* version — the one version string every program prints for --version. */
#ifndef ZWSD_VERSION_H
#define ZWSD_VERSION_H
#define ZWSD_VERSION "0.1.0"
#endif
