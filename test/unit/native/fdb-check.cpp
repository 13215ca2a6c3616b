// Checks of the FDB's own logic (datapath/native/src/fdb.cpp), built and run by
// test/unit/15.native.fdb.test.ts. Prints one line per check ("ok NAME" or "FAIL NAME: why") and
// exits 1 if any failed. Times are the FDB's coarse seconds, passed in explicitly.
#include <cstdio>
#include <string>
#include "../../../datapath/native/src/fdb.h"

using namespace vhn;

static int failures = 0;
static void check(bool ok, const char* name, const std::string& why) {
  if (ok) printf("ok %s\n", name);
  else {
    printf("FAIL %s: %s\n", name, why.c_str());
    failures++;
  }
}
static std::string n(uint64_t v) { return std::to_string(v); }
static uint64_t mac(uint32_t i) { return 0x02ull | ((uint64_t)i << 16); }  // unicast, distinct

int main() {
  {
    Fdb f;
    f.learn(mac(1), 1, 0);
    check(f.lookup(mac(1), 0) == 1 && f.stats().learned == 1, "learns a source MAC", "lookup " + n(f.lookup(mac(1), 0)));
    f.learn(mac(1), 2, 1);
    FdbStats s = f.stats();
    check(f.lookup(mac(1), 1) == 2 && s.moved == 1 && s.entries == 1 && s.learned == 1, "a MAC seen on another port moves",
          "lookup " + n(f.lookup(mac(1), 1)) + " moved " + n(s.moved) + " entries " + n(s.entries));
  }
  {
    Fdb f;
    f.agingSec = 10;
    f.learn(mac(1), 1, 0);
    f.learn(mac(2), 1, 5);
    auto before = f.stats();
    auto snap = f.snapshot(12);
    auto after = f.stats();
    check(snap.size() == 1 && snap[0].mac == mac(2) && snap[0].age == 7, "a read leaves aged-out entries out", "entries " + n(snap.size()));
    check(before.entries == 2 && after.entries == 2 && after.expired == 0, "a read changes nothing",
          "entries " + n(before.entries) + " -> " + n(after.entries) + " expired " + n(after.expired));
    check(f.lookup(mac(1), 12) == -1 && f.lookup(mac(2), 12) == 1, "an aged-out MAC is unknown before the sweep", "");
    f.sweep(12);
    auto swept = f.stats();
    check(swept.entries == 1 && swept.expired == 1, "the sweep removes aged-out entries and counts them",
          "entries " + n(swept.entries) + " expired " + n(swept.expired));
    f.sweep(16);
    check(f.stats().entries == 0 && f.stats().expired == 2 && f.lookup(mac(2), 16) == -1, "the sweep follows the last sighting",
          "entries " + n(f.stats().entries));
    f.learn(mac(4), 2, 41);  // a PMD whose coarse clock is a second ahead
    f.sweep(40);
    check(f.lookup(mac(4), 40) == 2 && f.stats().expired == 2, "a sighting a second ahead of the sweep clock is fresh", "");
    f.learn(mac(3), 1, 20);
    f.learn(mac(3), 1, 29);  // seen again: its aging restarts
    f.sweep(35);
    check(f.lookup(mac(3), 35) == 1 && f.stats().entries == 2, "an entry seen again is not swept", "");
  }
  {
    Fdb f;
    f.portLimit = 3;
    for (uint32_t i = 0; i < 5; i++) f.learn(mac(100 + i), 4, 0);
    FdbStats s = f.stats();
    check(s.entries == 3 && s.limited == 2 && s.learned == 3 && f.lookup(mac(104), 0) == -1, "a port stops learning at its limit",
          "entries " + n(s.entries) + " limited " + n(s.limited));
    f.learn(mac(200), 5, 0);
    check(f.lookup(mac(200), 0) == 5, "the limit is per port", "");
    f.learn(mac(200), 4, 1);
    check(f.lookup(mac(200), 1) == -1 && f.stats().limited == 3 && f.stats().entries == 3,
          "a MAC moving onto a port at its limit is forgotten, not left behind", "lookup " + n(f.lookup(mac(200), 1)));
    f.flushPort(4);
    f.learn(mac(300), 4, 2);
    check(f.stats().entries == 1 && f.lookup(mac(300), 2) == 4, "flushing a port frees its share", "entries " + n(f.stats().entries));
  }
  {
    Fdb f;
    f.portLimit = 0;
    f.agingSec = 1000000;
    for (uint32_t i = 0; i < kFdbCapacity; i++) f.learn(mac(1000 + i), (uint16_t)(i % 7), i);
    FdbStats full = f.stats();
    f.learn(mac(999999), 9, kFdbCapacity);
    FdbStats s = f.stats();
    check(full.entries == kFdbCapacity && s.entries == kFdbCapacity && s.evicted == 1 && f.lookup(mac(999999), kFdbCapacity) == 9,
          "a new MAC in a full table is learned, evicting one entry",
          "entries " + n(s.entries) + " evicted " + n(s.evicted) + " lookup " + n(f.lookup(mac(999999), kFdbCapacity)));
    check(f.lookup(mac(1000), kFdbCapacity) == -1 && f.lookup(mac(1001), kFdbCapacity) == 1, "the oldest entry is the one evicted", "");
    for (uint32_t i = 0; i < 2 * kFdbCapacity; i++) f.learn(mac(5000000 + i), 3, kFdbCapacity + 1 + i);
    s = f.stats();
    uint32_t newest = 0;
    for (uint32_t i = 2 * kFdbCapacity - 64; i < 2 * kFdbCapacity; i++) newest += f.lookup(mac(5000000 + i), 3 * kFdbCapacity) == 3;
    check(s.entries == kFdbCapacity && newest == 64, "a flood of new MACs keeps the table full of the newest ones",
          "entries " + n(s.entries) + " newest 64 present " + n(newest));
  }
  {
    Fdb f;
    f.portLimit = 3;
    f.setPortLimit(4, 5);  // its own, above the bridge's
    f.setPortLimit(6, 0);  // no limit at all
    bool refused = false;
    for (uint32_t i = 0; i < 6; i++) refused |= !f.learn(mac(100 + i), 4, 0);
    for (uint32_t i = 0; i < 10; i++) f.learn(mac(200 + i), 6, 0);
    for (uint32_t i = 0; i < 4; i++) f.learn(mac(300 + i), 5, 0);
    FdbStats s = f.stats();
    check(refused && s.entries == 5 + 10 + 3 && s.limited == 2 && f.lookup(mac(104), 0) == 4 && f.lookup(mac(105), 0) == -1,
          "a port's own limit overrides the bridge's", "entries " + n(s.entries) + " limited " + n(s.limited));
    f.flushPort(4);
    for (uint32_t i = 0; i < 5; i++) f.learn(mac(400 + i), 4, 1);
    check(f.stats().entries == 10 + 3 + 3, "a port destroyed forgets its own limit", "entries " + n(f.stats().entries));
  }
  {
    Fdb f;
    f.portLimit = 0;
    f.setTableSize(100);
    for (uint32_t i = 0; i < 150; i++) f.learn(mac(1000 + i), 1, i);
    FdbStats s = f.stats();
    check(s.entries == 100 && s.capacity == 100 && s.evicted == 50 && f.lookup(mac(1049), 150) == -1 && f.lookup(mac(1050), 150) == 1,
          "a smaller table keeps the newest entries", "entries " + n(s.entries) + " evicted " + n(s.evicted));
    f.setTableSize(10);
    s = f.stats();
    check(s.entries == 10 && s.evicted == 140 && f.lookup(mac(1139), 150) == -1 && f.lookup(mac(1140), 150) == 1,
          "shrinking the table evicts the oldest at once", "entries " + n(s.entries) + " evicted " + n(s.evicted));
  }
  return failures ? 1 : 0;
}
