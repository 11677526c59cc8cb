// greet.mo -- replies, rejects and traps for tests/drun/basic.drun.
import Debug "mo:core/Debug";
import Error "mo:core/Error";
import Runtime "mo:core/Runtime";

persistent actor {
  var counter : Nat = 4;

  public func greet(name : Text) : async Text {
    "Hello, " # name # "!";
  };

  public shared ({ caller }) func whoami() : async Principal {
    caller;
  };

  // A canister reject (Motoko throw).
  public func fail() : async () {
    throw Error.reject("abcdefgh");
  };

  // ic0.trap with a message.
  public func go() : async () {
    Runtime.trap("This is an explicit trap");
  };

  // A failed assert.
  public func check(n : Nat) : async () {
    assert n == 0;
  };

  // A Wasm trap: i32.div_u by zero.
  public func div(a : Nat32, b : Nat32) : async Nat32 {
    a / b;
  };

  // A oneway method: the ingress completes with an empty reply.
  public func printCounter() : () {
    Debug.print(debug_show counter);
  };

  public func get() : async Nat {
    counter;
  };

  // A query that changes the counter; the change is discarded.
  public query func read() : async Nat {
    let r = counter;
    counter += 1;
    Debug.print(debug_show counter);
    r;
  };

  public query func reject_query() : async Nat {
    throw Error.reject("abcdefghi");
  };
};
