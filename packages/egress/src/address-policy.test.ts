import { describe, expect, it } from "vitest";
import { checkAddress, type EgressPolicy } from "./address-policy.js";

const NONE: EgressPolicy = { allowLoopback: false, allowPrivate: false };
const LOOPBACK: EgressPolicy = { allowLoopback: true, allowPrivate: false };
const PRIVATE: EgressPolicy = { allowLoopback: false, allowPrivate: true };
const BOTH: EgressPolicy = { allowLoopback: true, allowPrivate: true };

type Row = [ip: string, range: string, none: boolean, loopback: boolean, priv: boolean, both: boolean];

// Which policies let each address through.
const TABLE: Row[] = [
  ["93.184.216.34", "public v4", true, true, true, true],
  ["8.8.8.8", "public v4", true, true, true, true],
  ["2606:4700:4700::1111", "public v6", true, true, true, true],
  ["127.0.0.1", "loopback", false, true, true, true],
  ["127.255.0.9", "loopback", false, true, true, true],
  ["::1", "loopback", false, true, true, true],
  ["10.1.2.3", "private", false, false, true, true],
  ["172.16.0.1", "private", false, false, true, true],
  ["172.31.255.254", "private", false, false, true, true],
  ["192.168.1.1", "private", false, false, true, true],
  ["169.254.169.254", "linkLocal", false, false, true, true],
  ["fe80::1", "linkLocal", false, false, true, true],
  ["100.64.0.1", "carrierGradeNat", false, false, true, true],
  ["fd00::1", "uniqueLocal", false, false, true, true],
  ["fc00::1", "uniqueLocal", false, false, true, true],
  ["0.0.0.0", "unspecified", false, false, false, false],
  ["0.1.2.3", "unspecified", false, false, false, false],
  ["::", "unspecified", false, false, false, false],
  ["255.255.255.255", "broadcast", false, false, false, false],
  ["224.0.0.1", "multicast", false, false, false, false],
  ["ff02::1", "multicast", false, false, false, false],
  ["240.0.0.1", "reserved", false, false, false, false],
  ["192.0.2.1", "reserved", false, false, false, false],
  ["198.18.0.1", "benchmarking", false, false, false, false],
  // Mapped and translated IPv6 judged by the IPv4 inside.
  ["::ffff:127.0.0.1", "mapped loopback", false, true, true, true],
  ["::ffff:7f00:1", "mapped loopback (hex)", false, true, true, true],
  ["::ffff:10.0.0.1", "mapped private", false, false, true, true],
  ["::ffff:169.254.169.254", "mapped linkLocal", false, false, true, true],
  ["::ffff:0.0.0.0", "mapped unspecified", false, false, false, false],
  ["::ffff:8.8.8.8", "mapped public", true, true, true, true],
  ["64:ff9b::7f00:1", "rfc6052 loopback", false, true, true, true],
  ["64:ff9b::808:808", "rfc6052 public", true, true, true, true],
  ["::ffff:0:a00:1", "rfc6145 private", false, false, true, true],
  ["2002:7f00:1::1", "6to4 loopback", false, true, true, true],
  ["2002:a00:1::1", "6to4 private", false, false, true, true],
  ["2002:808:808::1", "6to4 public", true, true, true, true],
  ["2001:0:808:808::80ff:fffe", "teredo to 127.0.0.1", false, true, true, true],
  ["2001:0:808:808::f7f7:f7f7", "teredo public", true, true, true, true],
  ["::7f00:1", "IPv4-compatible", false, false, false, false],
];

describe("checkAddress", () => {
  it.each(TABLE)("%s (%s)", (ip, _range, none, loopback, priv, both) => {
    expect(checkAddress(ip, NONE).allowed).toBe(none);
    expect(checkAddress(ip, LOOPBACK).allowed).toBe(loopback);
    expect(checkAddress(ip, PRIVATE).allowed).toBe(priv);
    expect(checkAddress(ip, BOTH).allowed).toBe(both);
  });

  it("names the range it refused", () => {
    expect(checkAddress("127.0.0.1", NONE)).toEqual({
      allowed: false,
      why: "127.0.0.1 is in the loopback range",
    });
    const mapped = checkAddress("::ffff:10.0.0.1", NONE);
    expect(mapped.allowed).toBe(false);
    if (!mapped.allowed) expect(mapped.why).toContain("private");
    const metadata = checkAddress("169.254.169.254", NONE);
    if (!metadata.allowed) expect(metadata.why).toContain("linkLocal");
  });

  it("refuses what is not an IP address", () => {
    expect(checkAddress("example.com", BOTH)).toEqual({
      allowed: false,
      why: "example.com is not an IP address",
    });
    expect(checkAddress("", BOTH).allowed).toBe(false);
  });
});
