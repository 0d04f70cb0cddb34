from django.db import migrations


def rename(apps, old: str, new: str) -> None:
    apps.get_model("generations", "Generation").objects.filter(error_code=old).update(error_code=new)


class Migration(migrations.Migration):
    """A stored `rate_limited` was always the provider limiting the playground; the code now says so, and
    `rate_limited` means a person's own limit (which is never stored: it refuses before anything is recorded)."""

    dependencies = [("generations", "0010_batches")]

    operations = [
        migrations.RunPython(
            lambda apps, schema_editor: rename(apps, "rate_limited", "provider_rate_limited"),
            lambda apps, schema_editor: rename(apps, "provider_rate_limited", "rate_limited"),
        )
    ]
