// callee.mo -- the target of caller.mo (tests/drun/calls.drun, cycles.drun).
import Cycles "mo:core/Cycles";
import Debug "mo:core/Debug";
import Error "mo:core/Error";
import Runtime "mo:core/Runtime";

persistent actor {
  public func echo(t : Text) : async Text {
    Debug.print("echo " # t);
    t # "!";
  };

  public func boom() : async () {
    Runtime.trap("callee boom");
  };

  public func reject() : async () {
    throw Error.reject("no thanks");
  };

  // Keeps half of the attached cycles.
  public func accept_half() : async Nat {
    Cycles.accept<system>(Cycles.available() / 2);
  };

  public func balance() : async Nat {
    Cycles.balance();
  };
};
