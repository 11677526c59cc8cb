// counter.mo -- stable state across upgrades (tests/unit_motoko.c).
// In a persistent actor every `var` is stable unless declared `transient`:
// `count` and `upgrades` survive an upgrade, `calls` starts again at 0.
// inc/get also show a replicated update against a query.
import Debug "mo:core/Debug";

persistent actor Counter {
  var count : Nat = 0;
  var upgrades : Nat = 0;
  transient var calls : Nat = 0;

  system func preupgrade() {
    Debug.print("preupgrade count=" # debug_show count # " calls=" # debug_show calls);
  };

  system func postupgrade() {
    upgrades += 1;
    Debug.print("postupgrade count=" # debug_show count # " calls=" # debug_show calls);
  };

  public func inc(by : Nat) : async Nat {
    count += by;
    calls += 1;
    count;
  };

  // (count, calls since install/upgrade, upgrades)
  public query func get() : async (Nat, Nat, Nat) {
    (count, calls, upgrades);
  };

  // A query may change the heap while it runs; the change is discarded.
  public query func inc_in_query() : async Nat {
    count += 1000;
    count;
  };
};
