"""Accounts made before roles existed could all generate: they keep that as members (staff are staff already)."""

from __future__ import annotations

from django.db import migrations


def existing_accounts_are_members(apps, schema_editor):
    User = apps.get_model("auth", "User")
    Person = apps.get_model("accounts", "Person")
    Person.objects.bulk_create(
        [Person(user_id=pk, may_generate=True) for pk in User.objects.values_list("pk", flat=True)],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(existing_accounts_are_members, migrations.RunPython.noop)]
