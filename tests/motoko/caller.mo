// caller.mo -- calls between canisters, raw_rand, cycles transfer and a
// trap after an await (tests/unit_motoko.c).  The callee's id is passed as
// an argument: `actor "<text id>"` makes a reference from it.
import Cycles "mo:core/Cycles";
import Error "mo:core/Error";
import Principal "mo:core/Principal";
import Random "mo:core/Random";
import Runtime "mo:core/Runtime";

persistent actor Caller {
  type Callee = actor {
    echo : Text -> async (Text, Principal);
    boom : () -> async Nat;
    reject : () -> async Nat;
    accept_half : () -> async Nat;
  };

  var steps : Nat = 0;

  func callee(p : Principal) : Callee {
    actor (Principal.toText(p)) : Callee;
  };

  public func relay(p : Principal, t : Text) : async Text {
    let (r, who) = await callee(p).echo(t);
    r # " from " # Principal.toText(who);
  };

  // A trap or a reject in the callee becomes an error the caller can catch.
  public func try_boom(p : Principal) : async Text {
    try {
      ignore await callee(p).boom();
      "no error";
    } catch e {
      debug_show (Error.code(e)) # " " # Error.message(e);
    };
  };

  public func try_reject(p : Principal) : async Text {
    try {
      ignore await callee(p).reject();
      "no error";
    } catch e {
      debug_show (Error.code(e)) # " " # Error.message(e);
    };
  };

  // Send `amount` cycles; the callee keeps half. (accepted, refunded)
  public func send_cycles(p : Principal, amount : Nat) : async (Nat, Nat) {
    let got = await (with cycles = amount) callee(p).accept_half();
    (got, Cycles.refunded());
  };

  // The state before the await is committed; the trap after it rolls back
  // only what the callback did.
  public func step_then_trap(p : Principal) : async () {
    steps += 1;
    ignore await callee(p).echo("x");
    steps += 10;
    Runtime.trap("trap after await");
  };

  public query func get_steps() : async Nat {
    steps;
  };

  // 32 bytes from the management canister's raw_rand.
  public func rand() : async Blob {
    await Random.blob();
  };

  public query func balance() : async Nat {
    Cycles.balance();
  };
};
