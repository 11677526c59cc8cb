// caller.mo -- calls to callee.mo, raw_rand and cycles (tests/drun/calls.drun,
// cycles.drun, fees.drun).  The callee's id is the argument `p`.
import Cycles "mo:core/Cycles";
import Debug "mo:core/Debug";
import Error "mo:core/Error";
import Principal "mo:core/Principal";
import Random "mo:core/Random";

persistent actor {
  type Callee = actor {
    echo : Text -> async Text;
    boom : () -> async ();
    reject : () -> async ();
    accept_half : () -> async Nat;
    balance : () -> async Nat;
  };

  func callee(p : Principal) : Callee {
    actor (Principal.toText(p)) : Callee;
  };

  public func relay(p : Principal) : async Text {
    await callee(p).echo("hi");
  };

  func show_code(c : Error.ErrorCode) : Text {
    switch c {
      case (#canister_reject) "canister_reject";
      case (#canister_error) "canister_error";
      case (#destination_invalid) "destination_invalid";
      case (#system_fatal) "system_fatal";
      case (#system_transient) "system_transient";
      case _ "other";
    };
  };

  // The callee's trap becomes an error the caller catches.
  public func try_boom(p : Principal) : async () {
    try {
      await callee(p).boom();
    } catch e {
      Debug.print(show_code(Error.code(e)) # ": " # Error.message(e));
    };
  };

  public func try_reject(p : Principal) : async () {
    try {
      await callee(p).reject();
    } catch e {
      Debug.print(show_code(Error.code(e)) # ": " # Error.message(e));
    };
  };

  // An uncaught callee reject propagates as this call's reject.
  public func pass_reject(p : Principal) : async () {
    await callee(p).reject();
  };

  // Sends 1_000_000 cycles; the callee keeps half.  (accepted, refunded)
  public func send(p : Principal) : async (Nat, Nat) {
    let got = await (with cycles = 1_000_000) callee(p).accept_half();
    (got, Cycles.refunded());
  };

  public func balance() : async Nat {
    Cycles.balance();
  };

  // Has this canister paid anything? (100 T at creation)
  public func paid() : async Bool {
    Cycles.balance() < 100_000_000_000_000;
  };

  // Two raw_rand answers: (size of the first, the two differ)
  public func rand() : async (Nat, Bool) {
    let a = await Random.blob();
    let b = await Random.blob();
    (a.size(), a != b);
  };

  // The bytes themselves (only compared between two runs).
  public func rand_print() : async () {
    let a = await Random.blob();
    Debug.print(debug_show a);
  };
};
