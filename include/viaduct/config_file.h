/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The config file: YAML (libcyaml schema, include files, dispatcher.list member lists,
 * names resolved once) into a validated struct vd_config (include/viaduct/config.h). The
 * control plane's job: nothing below it reads files.
 */
#ifndef VIADUCT_CONFIG_FILE_H
#define VIADUCT_CONFIG_FILE_H

#include <stddef.h>

#include "viaduct/config.h"

/**
 * Load and validate a YAML config file into *out.
 * On error returns a negative errno code and writes a one-line message naming the file and
 * the field (e.g. "rules/x.yaml: listeners[0].port: 70000 is out of range 1..65535") to err.
 * *out is only written on success.
 */
int vd_config_load(const char *path, struct vd_config *out, char *err, size_t errlen);

/** The same over an in-memory YAML document; `name` is used in error messages. */
int vd_config_parse(const char *yaml, size_t len, const char *name, struct vd_config *out,
		    char *err, size_t errlen);

#endif
