"""One identity per row when a volume falls back from the row path to the ORM path (issue #11).

A record the row path wrote can reach the ORM path's session two ways: a ``ReuseOrCreate``
pick turns the pooled record into a persistent ORM object, and a lazy load through another
object (``doctor.clinic``) loads the same row. Both must be the same instance, as on the
per-object path, where the session's identity map holds one object per row; two instances of
one key make SQLAlchemy refuse the second (``Can't attach instance ...; another instance with
key ... is already present in this session``). Each graph is seeded per object and through
``BulkSeeder`` on two databases of the same schema; the fingerprints must be equal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import factory
import pytest
import sqlalchemy as sa
from bulk_comparison import two_databases as new_databases
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from seedkit import SQLAlchemyFactory
from seedkit.bulk import BulkSeeder
from seedkit.core.determinism import deterministic
from seedkit.factories.alchemy import ReuseOrCreate
from seedkit.factories.binding import bind
from seedkit.stores.fingerprint import fingerprint

Create = Callable[..., Any]


class Base(DeclarativeBase):
    pass


class Clinic(Base):
    __tablename__ = "clinics"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(40), unique=True)
    doctors: Mapped[list[Doctor]] = relationship(back_populates="clinic")
    patients: Mapped[list[Patient]] = relationship(back_populates="clinic")


class Doctor(Base):
    __tablename__ = "doctors"
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"))
    email: Mapped[str] = mapped_column(sa.String(40), unique=True)
    clinic: Mapped[Clinic] = relationship(back_populates="doctors")


class Patient(Base):
    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id"))
    seen: Mapped[int] = mapped_column(sa.Integer)
    clinic: Mapped[Clinic] = relationship(back_populates="patients")


class Appointment(Base):
    __tablename__ = "appointments"
    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(sa.ForeignKey("doctors.id"))
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patients.id"))
    doctor: Mapped[Doctor] = relationship()
    patient: Mapped[Patient] = relationship()


class ClinicFactory(SQLAlchemyFactory):
    class Meta:
        model = Clinic

    slug = factory.Sequence(lambda n: f"c{n}")


class DoctorFactory(SQLAlchemyFactory):
    class Meta:
        model = Doctor

    clinic = ReuseOrCreate(ClinicFactory)
    email = factory.Sequence(lambda n: f"d{n}@x")


class PatientFactory(SQLAlchemyFactory):
    """Reads its clinic's collection: the row path offers it up to 1,000 records kept."""

    class Meta:
        model = Patient

    clinic = ReuseOrCreate(ClinicFactory)
    seen = factory.LazyAttribute(lambda o: len(o.clinic.patients))


class OrmPatientFactory(PatientFactory):
    """The ORM path (a ``_create`` of its own), reusing a clinic."""

    seen = 0

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Any:
        return super()._create(model_class, *args, **kwargs)


class AppointmentFactory(SQLAlchemyFactory):
    """Falls back to the ORM path once the clinic's collection is too large for the row path;
    the reused doctor's clinic is then loaded through ``doctor.clinic``."""

    class Meta:
        model = Appointment

    doctor = ReuseOrCreate(DoctorFactory)
    patient = factory.SubFactory(PatientFactory, clinic=factory.SelfAttribute("..doctor.clinic"))


class OrmDoctorFactory(DoctorFactory):
    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Any:
        return super()._create(model_class, *args, **kwargs)


class QuietPatientFactory(PatientFactory):
    """The row path, reusing a clinic without reading its collection."""

    seen = 0


class OrmAppointmentFactory(AppointmentFactory):
    """The ORM path (a ``_create`` of its own): loads ``doctor.clinic`` and reads its patients."""

    @classmethod
    def _create(cls, model_class: type, *args: Any, **kwargs: Any) -> Any:
        return super()._create(model_class, *args, **kwargs)


def _loaded_then_reused_on_the_row_path(create: Create) -> None:
    """The ORM path loads the clinic (and its patients); the row path then reuses the clinic: its
    new patients must reach the loaded object's collection, which the next ORM volume reads."""
    create(ClinicFactory, 1)
    create(DoctorFactory, 1)
    create(OrmAppointmentFactory, 1)
    create(QuietPatientFactory, 2)
    create(OrmAppointmentFactory, 1)


def _loaded_then_picked(create: Create) -> None:
    """The issue's repro: the clinic is loaded (``doctor.clinic``), then picked from the pool."""
    create(ClinicFactory, 1)
    create(DoctorFactory, 1)
    create(PatientFactory, 1001)
    create(AppointmentFactory, 1)
    create(OrmPatientFactory, 1)


def _picked_then_loaded(create: Create) -> None:
    """The other order: the clinic is picked from the pool first, then loaded through a doctor."""
    create(ClinicFactory, 1)
    create(DoctorFactory, 1)
    create(PatientFactory, 1001)
    create(OrmPatientFactory, 1)
    create(AppointmentFactory, 1)


def _picked_across_chunks(create: Create) -> None:
    """Loaded in one chunk, picked in a later one (the session forgets and re-attaches between)."""
    create(ClinicFactory, 1)
    create(DoctorFactory, 2)
    create(PatientFactory, 1001)
    create(AppointmentFactory, 3)
    create(OrmDoctorFactory, 3)
    create(OrmPatientFactory, 3)


GRAPHS = {
    "loaded then picked": _loaded_then_picked,
    "picked then loaded": _picked_then_loaded,
    "across chunks": _picked_across_chunks,
}


@pytest.mark.parametrize("chunk_size", [1, 2_000])
def test_a_pooled_row_the_orm_path_loaded_is_the_object_the_row_path_reuses_afterwards(
    two_databases: tuple[str, str], chunk_size: int
) -> None:
    first, second = two_databases
    expected = per_object(first, _loaded_then_reused_on_the_row_path)
    got, seeder = bulk(second, _loaded_then_reused_on_the_row_path, chunk_size)

    paths = {name.rsplit(".", 1)[1]: decision.path for name, decision in seeder.paths.items()}
    assert paths == {
        "ClinicFactory": "row",
        "DoctorFactory": "row",
        "OrmAppointmentFactory": "orm",
        "QuietPatientFactory": "row",
    }
    assert _column(first, "SELECT seen FROM patients ORDER BY id") == [0, 0, 0, 3]
    assert got.parts == expected.parts
    assert got.digest == expected.digest


def _column(url: str, sql: str) -> list[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql)).scalars())
    finally:
        engine.dispose()


@pytest.fixture
def two_databases(pg_server_url: str) -> Iterator[tuple[str, str]]:
    with new_databases(pg_server_url, Base.metadata) as urls:
        yield urls


def per_object(url: str, seed: Callable[[Create], None]) -> Any:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with (
                conn.begin(),
                deterministic(seed=5),
                Session(bind=conn, autoflush=False) as session,
                bind(session=session),
            ):
                seed(lambda factory_class, count: factory_class.create_batch(count))
                session.flush()
            return fingerprint(conn)
    finally:
        engine.dispose()


def bulk(url: str, seed: Callable[[Create], None], chunk_size: int) -> tuple[Any, BulkSeeder]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            with conn.begin(), deterministic(seed=5), BulkSeeder(conn, chunk_size=chunk_size) as seeder:
                seed(seeder.create)
            return fingerprint(conn), seeder
    finally:
        engine.dispose()


@pytest.mark.parametrize("graph", list(GRAPHS))
@pytest.mark.parametrize("chunk_size", [1, 2_000])
def test_a_row_loaded_and_picked_after_a_fallback_is_one_object_with_the_per_object_rows(
    two_databases: tuple[str, str], graph: str, chunk_size: int
) -> None:
    first, second = two_databases
    expected = per_object(first, GRAPHS[graph])
    got, seeder = bulk(second, GRAPHS[graph], chunk_size)

    paths = {name.rsplit(".", 1)[1]: decision for name, decision in seeder.paths.items()}
    assert paths["PatientFactory"].path == "row"
    assert paths["AppointmentFactory"].path == "orm"  # the clinic's collection grew past what records keep
    assert "Clinic.patients" in paths["AppointmentFactory"].reason
    assert got.parts == expected.parts
    assert got.digest == expected.digest
