// trap.mo -- traps roll back the message's changes (tests/unit_motoko.c).
import Debug "mo:core/Debug";
import Runtime "mo:core/Runtime";

persistent actor {
  var x : Nat = 0;

  public func set(v : Nat) : async () {
    x := v;
  };

  public func set_then_trap(v : Nat) : async () {
    x := v;
    Debug.print("set x=" # debug_show v # ", now trapping");
    Runtime.trap("boom " # debug_show v);
  };

  public func set_then_assert(v : Nat) : async () {
    x := v;
    assert v == 0;
  };

  // Nat subtraction below zero traps in the Motoko runtime.
  public func underflow(v : Nat) : async Nat {
    x := v;
    x - (v + 1);
  };

  public query func get() : async Nat {
    x;
  };
};
