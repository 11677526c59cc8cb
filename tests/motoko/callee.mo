// callee.mo -- the target of caller.mo's calls (tests/unit_motoko.c).
import Cycles "mo:core/Cycles";
import Error "mo:core/Error";
import Runtime "mo:core/Runtime";

persistent actor Callee {
  var hits : Nat = 0;

  public shared ({ caller }) func echo(t : Text) : async (Text, Principal) {
    hits += 1;
    ("echo:" # t, caller);
  };

  public func boom() : async Nat {
    hits += 1;
    Runtime.trap("callee boom");
  };

  public func reject() : async Nat {
    throw Error.reject("no thanks");
  };

  // Accept half of the attached cycles.
  public func accept_half() : async Nat {
    Cycles.accept<system>(Cycles.available() / 2);
  };

  public query func get_hits() : async Nat {
    hits;
  };
};
