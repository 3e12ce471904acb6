//! The receive rules for answers (RFC 8489 §6.3.3, §9.2.5): only from the
//! address the request went to, and after the 401 only with a valid
//! MESSAGE-INTEGRITY(-SHA256); anything else is dropped without ending the
//! transaction.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod turn_client_server;

use std::time::Duration;

use candidate_gather::turn::{DropReason, Handled, Operation, TurnError, TurnEvent, TurnState};
use stun_proto::attr::Lifetime;
use stun_proto::{Class, IntegrityKey, LongTermAlgorithm, Message, Method};
use turn_client_server::*;

#[test]
fn rfc8489_9_2_5_unsigned_refusals_after_credentials_are_dropped_then_integrity_violated() {
    let mut net = Net::new(Net::config(), Server::new());
    let first = net.take();
    let req = Message::parse(&first[0].data).unwrap();
    let challenge = net.server.challenge(&req, 401);
    net.deliver(&challenge);
    let second = net.take();
    let req = Message::parse(&second[0].data).unwrap();
    for code in [486, 437, 508, 400] {
        let unsigned = net.server.error(&req, code, false);
        assert_eq!(
            net.deliver(&unsigned),
            Handled::Dropped(DropReason::Integrity)
        );
    }
    assert_eq!(net.client.state(), TurnState::Allocating);
    // The transaction goes on (retransmissions) and ends as an integrity
    // violation, not a timeout.
    net.server.silent = true;
    net.run_until(Duration::from_secs(60));
    let err = net.failed().unwrap();
    assert_eq!(
        *err,
        TurnError::IntegrityViolated {
            operation: Operation::Allocate
        }
    );
    assert!(
        err.to_string()
            .contains("failed the MESSAGE-INTEGRITY check")
    );
}

#[test]
fn rfc8489_9_2_5_successes_without_or_with_wrong_integrity_are_ignored() {
    let mut net = Net::new(Net::config(), Server::new());
    let first = net.take();
    let req = Message::parse(&first[0].data).unwrap();
    // A success to the uncredentialed request: the server must have
    // authenticated (RFC 8656 §7.2), so it is dropped.
    let unsigned = net.server.respond(&req, Class::Success, false, |w| {
        w.add(&stun_proto::attr::XorRelayedAddress(addr("6.6.6.6:6")))
            .unwrap();
        w.add(&stun_proto::attr::XorMappedAddress(addr("6.6.6.6:7")))
            .unwrap();
        w.add(&Lifetime(600)).unwrap();
    });
    assert_eq!(
        net.deliver(&unsigned),
        Handled::Dropped(DropReason::Integrity)
    );
    let challenge = net.server.challenge(&req, 401);
    assert_eq!(net.deliver(&challenge), Handled::Consumed);
    let second = net.take();
    let req = Message::parse(&second[0].data).unwrap();

    let forged = |key: Option<IntegrityKey>| {
        net.server.respond_with_key(&req, Class::Success, key, |w| {
            w.add(&stun_proto::attr::XorRelayedAddress(addr("6.6.6.6:6")))
                .unwrap();
            w.add(&stun_proto::attr::XorMappedAddress(addr("6.6.6.6:7")))
                .unwrap();
            w.add(&Lifetime(600)).unwrap();
        })
    };
    let wrong = IntegrityKey::long_term(USER, REALM, "guess", LongTermAlgorithm::Md5).unwrap();
    let without = forged(None);
    let with_wrong = forged(Some(wrong));
    for bad in [&without, &with_wrong] {
        assert_eq!(net.deliver(bad), Handled::Dropped(DropReason::Integrity));
    }
    // A bad FINGERPRINT on an otherwise authentic answer.
    let mut bad_fp = Vec::new();
    {
        let key = net.server.key_for(&req);
        let t = stun_proto::MessageType::new(Method::ALLOCATE, Class::Success);
        let mut w = stun_proto::MessageWriter::new(&mut bad_fp, t, req.transaction_id());
        w.add(&stun_proto::attr::XorRelayedAddress(addr("6.6.6.6:6")))
            .unwrap();
        w.add(&stun_proto::attr::XorMappedAddress(addr("6.6.6.6:7")))
            .unwrap();
        w.add(&Lifetime(600)).unwrap();
        w.add_message_integrity(&key).unwrap();
        w.add_fingerprint().unwrap();
    }
    let last = bad_fp.len() - 1;
    bad_fp[last] ^= 1;
    assert_eq!(
        net.deliver(&bad_fp),
        Handled::Dropped(DropReason::Malformed)
    );
    assert!(
        !net.events
            .iter()
            .any(|e| matches!(e, TurnEvent::Allocated { .. }))
    );
    assert_eq!(net.client.relayed(), None);

    // The transaction is still open: the authentic answer finishes it.
    let genuine = net.server.allocate_success(&req);
    assert_eq!(net.deliver(&genuine), Handled::Consumed);
    assert_eq!(net.client.relayed(), Some(addr(RELAYED)));
}

#[test]
fn rfc8489_6_3_3_answers_from_another_address_are_not_taken() {
    let mut net = Net::new(Net::config(), Server::new());
    let first = net.take();
    let req = Message::parse(&first[0].data).unwrap();
    let challenge = net.server.challenge(&req, 401);
    net.deliver(&challenge);
    let second = net.take();
    let req = Message::parse(&second[0].data).unwrap();
    let genuine = net.server.allocate_success(&req);
    for from in [addr("192.0.2.1:3479"), addr("192.0.2.2:3478"), addr(MAPPED)] {
        assert_eq!(net.deliver_from(from, &genuine), Handled::NotMine);
    }
    assert_eq!(net.client.relayed(), None);
    assert_eq!(net.deliver(&genuine), Handled::Consumed);
    assert_eq!(net.client.relayed(), Some(addr(RELAYED)));
    // A repeat of the answer is no longer ours (the transaction is done):
    // the owner gets it, as it would a STUN answer to its own request.
    assert_eq!(net.deliver(&genuine), Handled::NotMine);
}
