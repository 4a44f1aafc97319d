//! Field values whose `Debug` uses `tracing` while the layer records them. Only a global
//! subscriber sees such nested calls (`tracing` sends the calls a scoped subscriber's callbacks
//! make to no subscriber), so this file holds a single test that installs one.

use std::fmt;

use tracewire::testing::Recorder;

/// A value whose `Debug` logs, as a value with a chatty `Debug` impl does.
struct Chatty;

impl fmt::Debug for Chatty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::info!(inner = 1, "formatting");
        f.write_str("chatty")
    }
}

#[test]
fn field_values_may_log_while_they_are_recorded() {
    let r = Recorder::new();
    tracing::dispatcher::set_global_default(r.dispatch().clone()).unwrap();
    let span = tracing::info_span!(
        "s",
        created = ?Chatty,
        later = tracing::field::Empty,
        before = tracing::field::Empty,
        among = tracing::field::Empty,
        after = tracing::field::Empty,
    );
    let entered = span.enter();
    span.record("later", tracing::field::debug(Chatty));
    // One call recording plain values around a chatty one: the plain value before it is recorded
    // first, the chatty one and the rest with the recording set aside.
    let meta = span.metadata().unwrap();
    let field = |name| meta.fields().field(name).unwrap();
    let (before, among, after) = (field("before"), field("among"), field("after"));
    let chatty = tracing::field::debug(Chatty);
    span.record_all(&meta.fields().value_set(&[
        (&before, Some(&"b" as &dyn tracing::Value)),
        (&among, Some(&chatty as &dyn tracing::Value)),
        (&after, Some(&7i64 as &dyn tracing::Value)),
    ]));
    tracing::info!(value = ?Chatty, "outer");
    drop(entered);
    drop(span);
    let s = r.span("s");
    s.assert_attr("created", "chatty")
        .assert_attr("later", "chatty")
        .assert_attr("before", "b")
        .assert_attr("among", "chatty")
        .assert_attr("after", 7i64);
    let keys: Vec<&str> = s.data().attributes.iter().map(|kv| &*kv.key).collect();
    assert_eq!(keys, ["created", "later", "before", "among", "after"]);
    let events: Vec<&str> = s.data().events.iter().map(|e| &*e.name).collect();
    // Logged while the span was created (no span entered yet) and while `later` and `among` were
    // recorded (the recording is set aside meanwhile): not in the span. Logged while the event's
    // own fields were visited: recorded, before the outer event.
    assert_eq!(events, ["formatting", "outer"]);
}
