/* SPDX-License-Identifier: MIT */
/*
 * vmdb.h - the whole public API of vmdb, one header per layer.
 */
#ifndef VMDB_H
#define VMDB_H

#include "vmdb/error.h"
#include "vmdb/version.h"
#include "vmdb/map.h"
#include "vmdb/buffer.h"
#include "vmdb/ring.h"
#include "vmdb/slotring.h"
#include "vmdb/schema.h"
#include "vmdb/table_file.h"
#include "vmdb/db.h"
#include "vmdb/query.h"

#endif /* VMDB_H */
