"""The sandbox kit's kept state (``build_app(persist=...)``), as a plugin author's
sandbox uses it: what one instance saved, the next reads back into its live objects,
references between them included; a file that no longer reads is set aside."""

from axhub.sandbox import OAuthServer, build_app


class Room:
    def __init__(self, name: str) -> None:
        self.name = name
        self.people: list[str] = []


class Booking:
    def __init__(self, room: Room) -> None:
        self.room = room  # the live Room the routes also hold
        self.slots: dict[str, str] = {}


def sandbox():
    server = OAuthServer(client_id="c", client_secret="s", prefix="t")
    room = Room("Salle 1")
    booking = Booking(room)
    tags: set[str] = set()
    app = build_app([], server=server, persist={"room": lambda: room, "booking": lambda: booking, "tags": lambda: tags})
    return app, server, room, booking, tags


def test_a_new_instance_reads_back_what_the_last_one_saved(tmp_path):
    path = tmp_path / "sandboxes" / "demo.pickle"
    app, server, room, booking, tags = sandbox()
    app.state.sandbox_state.attach(path)
    back = server.authorize({"client_id": "c", "redirect_uri": "https://app.example/cb", "response_type": "code",
                             "scope": "read"})
    issued = server.exchange(back.split("code=")[1], "https://app.example/cb", None)
    room.people.append("Marie")
    booking.slots["09:00"] = "Marie"
    tags.add("vip")
    app.state.sandbox_state.save()

    app2, server2, room2, booking2, tags2 = sandbox()
    app2.state.sandbox_state.attach(path)
    assert server2.bearer(f"Bearer {issued.access_token}") is not None
    assert issued.refresh_token in server2.refresh_tokens
    assert room2.people == ["Marie"] and booking2.slots == {"09:00": "Marie"} and tags2 == {"vip"}
    assert booking2.room is room2  # still one room: the one the routes hold


def test_an_unreadable_file_is_set_aside_and_the_sandbox_starts_empty(tmp_path, caplog):
    path = tmp_path / "demo.pickle"
    path.write_bytes(b"not a pickle")
    app, server, room, *_ = sandbox()
    app.state.sandbox_state.attach(path)
    assert room.people == [] and not server.access
    assert not path.exists() and (tmp_path / "demo.unreadable").exists()
    assert "could not be read" in caplog.text
