"""Reading and validating packs without any database: manifests, formats, labels, references."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_packs_support import DOMAIN_FACTORIES, REFERENCE_PACKS, write_pack

from seedkit.errors import PackError
from seedkit.packs import Ref, RelativeTime, discover_packs, resolve_packs, validate_packs
from seedkit.packs.values import parse_value


def test_discover_lists_packs_under_each_root_and_a_root_that_is_a_pack(tmp_path: Path) -> None:
    write_pack(tmp_path / "a", "one", {})
    write_pack(tmp_path / "a", "two", {})
    (tmp_path / "a" / "not_a_pack").mkdir()
    single = write_pack(tmp_path, "three", {})
    found = discover_packs([tmp_path / "a", single])
    assert found == {"one": tmp_path / "a" / "one", "three": single, "two": tmp_path / "a" / "two"}


def test_discover_refuses_two_packs_with_one_name_and_a_missing_root(tmp_path: Path) -> None:
    write_pack(tmp_path / "a", "shop", {})
    write_pack(tmp_path / "b", "shop", {})
    with pytest.raises(PackError, match="two packs are named 'shop'"):
        discover_packs([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(PackError, match="is not a directory"):
        discover_packs([tmp_path / "missing"])


def test_resolve_orders_dependencies_first_once_each(tmp_path: Path) -> None:
    write_pack(tmp_path, "base", {})
    write_pack(tmp_path, "left", {}, depends_on=("base",))
    write_pack(tmp_path, "right", {}, depends_on=("base",))
    write_pack(tmp_path, "top", {}, depends_on=("left", "right"))
    assert [p.name for p in resolve_packs(["top"], [tmp_path])] == ["base", "left", "right", "top"]
    assert [p.name for p in resolve_packs(["right", "top"], [tmp_path])] == ["base", "right", "left", "top"]


def test_unknown_pack_lists_the_known_ones(tmp_path: Path) -> None:
    write_pack(tmp_path, "shop", {})
    with pytest.raises(PackError, match=r"unknown pack 'shoop' \(known packs: shop"):
        resolve_packs(["shoop"], [tmp_path])
    write_pack(tmp_path, "orders", {}, depends_on=("nope",))
    with pytest.raises(PackError) as error:
        resolve_packs(["orders"], [tmp_path])
    assert error.value.file is not None and error.value.file.endswith("orders/pack.yaml")
    assert error.value.field == "depends_on" and "unknown pack 'nope'" in str(error.value)


def test_cyclic_depends_on_names_the_cycle(tmp_path: Path) -> None:
    write_pack(tmp_path, "a", {}, depends_on=("b",))
    write_pack(tmp_path, "b", {}, depends_on=("c",))
    write_pack(tmp_path, "c", {}, depends_on=("a",))
    with pytest.raises(PackError, match=r"depends_on cycle: a -> b -> c -> a") as error:
        resolve_packs(["a"], [tmp_path])
    assert error.value.field == "depends_on"


def test_manifest_must_list_every_data_file_with_a_known_store(tmp_path: Path) -> None:
    write_pack(
        tmp_path,
        "p",
        {"users.yaml": "", "stray.csv": "_label\n"},
        manifest="files:\n  users.yaml: postgres\n",
    )
    with pytest.raises(PackError, match=r"data file stray\.csv is not listed"):
        resolve_packs(["p"], [tmp_path])
    write_pack(tmp_path, "q", {"users.yaml": ""}, manifest="files:\n  users.yaml: mysql\n")
    with pytest.raises(PackError, match="store 'mysql' is not one of postgres, mongo"):
        resolve_packs(["q"], [tmp_path])
    write_pack(tmp_path, "r", {}, manifest="files:\n  ghost.yaml: postgres\n")
    with pytest.raises(PackError, match=r"ghost\.yaml is listed but does not exist"):
        resolve_packs(["r"], [tmp_path])
    write_pack(tmp_path, "s", {}, manifest="name: s\nfiels: {}\n")
    with pytest.raises(PackError, match="unknown key") as error:
        resolve_packs(["s"], [tmp_path])
    assert error.value.field == "fiels" and error.value.line == 2


def test_the_three_formats_give_the_same_records(tmp_path: Path) -> None:
    write_pack(
        tmp_path,
        "p",
        {
            "a.yaml": """
                acme:
                  org: "@organizations.acme"
                  price: 1.50
                  at: "@now-3d"
                  note: "@@home"
            """,
            "b.json": '{"acme": {"org": "@organizations.acme", "price": 1.50,'
            ' "at": "@now-3d", "note": "@@home"}}',
            "c.csv": "_label,org,price,at,note,empty\nacme,@organizations.acme,1.50,@now-3d,@@home,\n",
        },
    )
    (pack,) = resolve_packs(["p"], [tmp_path])
    records = {f.table: f.records[0] for f in pack.files}
    for record in records.values():
        assert record.label == "acme"
        assert record.fields["org"] == Ref("organizations", "acme")
        assert isinstance(record.fields["at"], RelativeTime) and record.fields["at"].offset.days == -3
        assert record.fields["note"] == "@home"
    assert records["a"].fields["price"] == records["b"].fields["price"] == 1.5
    assert records["c"].fields["price"] == "1.50" and records["c"].textual
    assert "empty" not in records["c"].fields  # an empty CSV cell gives no value
    assert records["a"].line == 1 and records["a"].field_lines["price"] == 3


def test_bad_at_values_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a reference"):
        parse_value("@bob")
    with pytest.raises(ValueError, match="not a time"):
        parse_value("@now-3x")
    assert parse_value({"a": ["@now", "@t.l"]}) == {
        "a": [RelativeTime(parse_value("@now").offset, "@now"), Ref("t", "l")]
    }
    write_pack(tmp_path, "p", {"users.yaml": "alice:\n  email: a@x\n  handle: '@alice'\n"})
    with pytest.raises(PackError) as error:
        resolve_packs(["p"], [tmp_path])
    assert (error.value.record, error.value.field, error.value.line) == ("alice", "handle", 3)
    assert "write @table.label (or @@ for a text starting with @)" in str(error.value)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    write_pack(
        tmp_path, "p", {"users.yaml": "alice:\n  email: a@x.com\n  name: [unclosed\nbob:\n  email: b\n"}
    )
    with pytest.raises(PackError, match="YAML syntax error") as error:
        resolve_packs(["p"], [tmp_path])
    assert error.value.file is not None and error.value.file.endswith("p/users.yaml")
    assert error.value.line == 4
    assert str(error.value).startswith(f"{error.value.file}:4: YAML syntax error")


def test_json_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    write_pack(tmp_path, "p", {"users.json": '{\n  "alice": {"email": "a"},\n  "bob": {"email": "b",}\n}\n'})
    with pytest.raises(PackError, match="JSON syntax error") as error:
        resolve_packs(["p"], [tmp_path])
    assert error.value.line == 3


@pytest.mark.parametrize(
    ("filename", "text", "line"),
    [
        ("users.yaml", "alice:\n  email: a\nbob:\n  email: b\nalice:\n  email: c\n", 5),
        ("users.json", '{"alice": {"email": "a"}, "alice": {"email": "c"}}', None),
        ("users.csv", "_label,email\nalice,a\nbob,b\nalice,c\n", 4),
    ],
)
def test_duplicate_label_in_one_file(tmp_path: Path, filename: str, text: str, line: int | None) -> None:
    write_pack(tmp_path, "p", {filename: text})
    with pytest.raises(PackError, match="duplicate label") as error:
        resolve_packs(["p"], [tmp_path])
    assert (error.value.record, error.value.line) == ("alice", line)
    assert error.value.file is not None and error.value.file.endswith(filename)


def test_duplicate_field_in_a_yaml_record_is_an_error(tmp_path: Path) -> None:
    write_pack(tmp_path, "p", {"users.yaml": "alice:\n  email: a\n  email: b\n"})
    with pytest.raises(PackError, match="duplicate key 'email'") as error:
        resolve_packs(["p"], [tmp_path])
    assert error.value.line == 3


def test_validate_without_database_finds_label_problems(tmp_path: Path) -> None:
    write_pack(tmp_path, "base", {"organizations.yaml": "acme:\n  name: ACME\n"})
    write_pack(tmp_path, "other", {"products.yaml": "lamp:\n  name: Lamp\n"})
    write_pack(
        tmp_path,
        "shop",
        {
            "organizations.yaml": "acme:\n  name: Again\n",
            "users.yaml": """
                alice:
                  organization_id: "@organizations.acme"
                bob:
                  organization_id: "@organizations.acne"
                carol:
                  favourite: "@products.lamp"
            """,
            "events.yaml": "e1:\n  actor: '@users.dave'\n",
        },
        depends_on=("base",),
        mongo=("events.yaml",),
    )
    packs = resolve_packs(["shop", "other"], [tmp_path])
    problems = {(Path(p.file or "").name, p.record, p.field): p.reason for p in validate_packs(packs)}
    assert problems == {
        ("organizations.yaml", "acme", None): problems[("organizations.yaml", "acme", None)],
        ("users.yaml", "bob", "organization_id"): problems[("users.yaml", "bob", "organization_id")],
        ("users.yaml", "carol", "favourite"): problems[("users.yaml", "carol", "favourite")],
        ("events.yaml", "e1", "actor"): problems[("events.yaml", "e1", "actor")],
    }
    assert problems[("organizations.yaml", "acme", None)].startswith("duplicate label: @organizations.acme")
    assert (
        "no record labelled 'acne' in 'organizations'" in problems[("users.yaml", "bob", "organization_id")]
    )
    assert "add it to depends_on of pack 'shop'" in problems[("users.yaml", "carol", "favourite")]
    assert "dangling reference @users.dave" in problems[("events.yaml", "e1", "actor")]


def test_validate_without_database_checks_factories_and_traits(tmp_path: Path) -> None:
    write_pack(
        tmp_path,
        "p",
        {
            "users.yaml": """
                ok:
                  _factory: CustomerFactory
                typo:
                  _factory: CustmerFactory
                bad_trait:
                  _factory: UserFactory
                  _traits: [admin, boss]
                no_factory:
                  _traits: [admin]
            """
        },
    )
    packs = resolve_packs(["p"], [tmp_path])
    problems = {
        (p.record, p.field): p.reason for p in validate_packs(packs, factory_modules=DOMAIN_FACTORIES)
    }
    assert set(problems) == {("typo", "_factory"), ("bad_trait", "_traits"), ("no_factory", "_traits")}
    assert (
        "unknown factory 'CustmerFactory' (did you mean 'CustomerFactory'?) "
        "(searched: seedkit_reference.model_factories" in problems[("typo", "_factory")]
    )
    assert (
        problems[("bad_trait", "_traits")] == "unknown trait 'boss' of UserFactory (known: admin, customer)"
    )
    no_modules = validate_packs(packs)
    assert any("no factory modules configured" in p.reason for p in no_modules)


def test_reference_packs_are_valid_without_a_database() -> None:
    names = list(discover_packs([REFERENCE_PACKS]))
    assert {"catalog", "golden", "customers"} <= set(names)
    packs = resolve_packs(names, [REFERENCE_PACKS])
    assert validate_packs(packs, factory_modules=DOMAIN_FACTORIES) == []
    golden = next(p for p in packs if p.name == "golden")
    assert golden.depends_on == ("catalog",) and golden.description
