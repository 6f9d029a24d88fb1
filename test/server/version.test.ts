// The versions a member reports: etcd's (Status, /version) and Ordo's own release, which must
// be package.json's.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ORDO_RELEASE, ORDO_VERSION } from "../../src/server/maintenance-service.js";

test("ORDO_RELEASE is package.json's version; ORDO_VERSION is an etcd 3.4 version", () => {
  const pkg = JSON.parse(
    readFileSync(new URL("../../../package.json", import.meta.url), "utf8"),
  ) as { version: string };
  assert.equal(ORDO_RELEASE, pkg.version);
  assert.match(ORDO_VERSION, /^3\.4\.\d+$/);
});
