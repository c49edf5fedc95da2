"""`sentra admin …`: departments, users, roles and service accounts in the Sentra realm
(Keycloak admin API)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sentra_cli.cli import DEFAULT_HOME, DataDir, Issuer, app, console, err, issuer_url
from sentra_cli.platform import Platform

admin_app = typer.Typer(help="Departments, users and roles in the Sentra realm (Keycloak admin API).",
                        no_args_is_help=True)
departments_app = typer.Typer(help="Departments (groups under /departments).", no_args_is_help=True)
users_app = typer.Typer(help="Users, their departments and roles.", no_args_is_help=True)
clients_app = typer.Typer(help="Service accounts (client credentials).", no_args_is_help=True)
admin_app.add_typer(departments_app, name="departments")
admin_app.add_typer(users_app, name="users")
admin_app.add_typer(clients_app, name="clients")
app.add_typer(admin_app, name="admin")

AdminUser = Annotated[str, typer.Option(envvar="SENTRA_KEYCLOAK_ADMIN_USER", help="Keycloak administrator.")]
AdminPassword = Annotated[str, typer.Option(envvar="SENTRA_KEYCLOAK_ADMIN_PASSWORD",
                                            help="Its password; default: the local platform's.")]


def _admin(home: Path, issuer: str, admin_user: str, admin_password: str):
    import json

    from sentra_cli.admin import AdminError, RealmAdmin

    realm = issuer_url(home, issuer)
    if not admin_user:
        state = Platform(home).load_state()
        if not state.identity.admin_file:
            err.print("[red]error:[/red] pass --admin-user and --admin-password (SENTRA_KEYCLOAK_ADMIN_USER/PASSWORD)")
            raise typer.Exit(2)
        stored = json.loads(Path(state.identity.admin_file).read_text())
        admin_user, admin_password = stored["username"], stored["password"]
    try:
        return RealmAdmin(realm, admin_user, admin_password)
    except AdminError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


def _admin_action(fn):
    from sentra_cli.admin import AdminError

    try:
        return fn()
    except AdminError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


@departments_app.command("create")
def departments_create(names: list[str], issuer: Issuer = "", admin_user: AdminUser = "",
                       admin_password: AdminPassword = "", home: DataDir = DEFAULT_HOME) -> None:
    """Create departments."""
    admin = _admin(home, issuer, admin_user, admin_password)
    for name in names:
        _admin_action(lambda n=name: admin.create_department(n))
        console.print(f"department {name} ready")


@departments_app.command("list")
def departments_list(issuer: Issuer = "", admin_user: AdminUser = "", admin_password: AdminPassword = "",
                     home: DataDir = DEFAULT_HOME) -> None:
    """List departments."""
    for name in _admin(home, issuer, admin_user, admin_password).list_departments():
        console.print(name)


@users_app.command("create")
def users_create(
    username: str,
    email: Annotated[str, typer.Option(help="E-mail address (required by the realm).")],
    department: Annotated[list[str], typer.Option("--department", "-d")] = [],  # noqa: B006
    role: Annotated[list[str], typer.Option("--role", "-r", help="platform-admin, dept-admin, trainer, member")]
    = ["member"],  # noqa: B006
    name: Annotated[str, typer.Option(help="Full name.")] = "",
    password_stdin: Annotated[bool, typer.Option(help="Read the initial password from stdin.")] = False,
    temporary: Annotated[bool, typer.Option(help="The user must change the password at first login.")] = False,
    issuer: Issuer = "", admin_user: AdminUser = "", admin_password: AdminPassword = "",
    home: DataDir = DEFAULT_HOME,
) -> None:
    """Create a user with departments and roles."""
    admin = _admin(home, issuer, admin_user, admin_password)
    password = (typer.get_text_stream("stdin").readline().rstrip("\n") if password_stdin
                else typer.prompt("initial password", hide_input=True, confirmation_prompt=True))
    first, _, last = name.partition(" ")
    _admin_action(lambda: admin.create_user(
        username, email=email, password=password, first_name=first, last_name=last,
        departments=department, roles=role, temporary_password=temporary))
    console.print(f"user {username} created: departments {', '.join(department) or '-'}, roles {', '.join(role)}")


@users_app.command("list")
def users_list(issuer: Issuer = "", admin_user: AdminUser = "", admin_password: AdminPassword = "",
               home: DataDir = DEFAULT_HOME) -> None:
    """List users with their departments, roles and account ids (access lists name users by id)."""
    table = Table("user", "enabled", "e-mail", "departments", "roles", "account id (user:<id>)")
    for u in _admin(home, issuer, admin_user, admin_password).list_users():
        table.add_row(u.username, "yes" if u.enabled else "[red]no[/red]", u.email, ", ".join(u.departments),
                      ", ".join(u.roles), u.id)
    console.print(table)


def _user_change(verb: str, help_text: str):
    def command(
        username: str,
        value: str = typer.Argument("", help=help_text),
        issuer: Issuer = "", admin_user: AdminUser = "", admin_password: AdminPassword = "",
        home: DataDir = DEFAULT_HOME,
    ) -> None:
        admin = _admin(home, issuer, admin_user, admin_password)

        def change():
            user_id = admin.client_user_id(username[7:]) if username.startswith("client:") \
                else admin.user_id(username)
            actions = {
                "add-department": lambda: admin.add_department(user_id, value),
                "remove-department": lambda: admin.remove_department(user_id, value),
                "grant-role": lambda: admin.grant_role(user_id, value),
                "revoke-role": lambda: admin.revoke_role(user_id, value),
                "disable": lambda: admin.set_enabled(user_id, False),
                "enable": lambda: admin.set_enabled(user_id, True),
            }
            actions[verb]()

        _admin_action(change)
        console.print(f"{username}: {verb} {value}".rstrip())

    command.__doc__ = f"{verb.replace('-', ' ').capitalize()} (a service account: client:<client id>)."
    return command


for _verb, _help in (("add-department", "department"), ("remove-department", "department"),
                     ("grant-role", "role"), ("revoke-role", "role"), ("disable", ""), ("enable", "")):
    users_app.command(_verb)(_user_change(_verb, _help))


@clients_app.command("secret")
def clients_secret(client_id: str, issuer: Issuer = "", admin_user: AdminUser = "",
                   admin_password: AdminPassword = "", home: DataDir = DEFAULT_HOME) -> None:
    """Print a service account's client secret (for `sentra login --client-id`)."""
    admin = _admin(home, issuer, admin_user, admin_password)
    console.print(_admin_action(lambda: admin.client_secret(client_id)))
