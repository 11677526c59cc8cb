// stable.mo -- stable variables across upgrades (tests/drun/upgrade.drun).
// `count` and `upgrades` are stable, `calls` is transient.
import Debug "mo:core/Debug";

persistent actor {
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

  public func inc() : async Nat {
    count += 1;
    calls += 1;
    count;
  };

  // (count, calls, upgrades)
  public query func get() : async (Nat, Nat, Nat) {
    (count, calls, upgrades);
  };
};
