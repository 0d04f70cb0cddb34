import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import generations.models


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0009_cjk_search"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Batch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "public_id",
                    models.CharField(
                        default=generations.models.new_public_id, editable=False, max_length=32, unique=True
                    ),
                ),
                (
                    "prompts_text",
                    models.TextField(help_text="The prompts as typed, {a|b} alternatives included."),
                ),
                ("prompts", models.JSONField(help_text="The prompts, alternatives expanded.")),
                ("seeds", models.JSONField()),
                ("sizes", models.JSONField(help_text='"WxH" values.')),
                ("extend_modes", models.JSONField(help_text="[false], [true] or [false, true].")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "rerun_of",
                    models.ForeignKey(
                        blank=True,
                        help_text="Run again from.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="reruns",
                        to="generations.batch",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="batches",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"verbose_name_plural": "batches", "ordering": ["-created_at"]},
        ),
        migrations.AddField(
            model_name="generation",
            name="image_dhash",
            field=models.CharField(
                blank=True,
                help_text="A 64-bit perceptual hash (dHash, hex), made with the thumbnail.",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="generation",
            name="cell_index",
            field=models.PositiveIntegerField(
                blank=True, help_text="Its place in the batch's grid (the same place in a re-run).", null=True
            ),
        ),
        migrations.AddField(
            model_name="generation",
            name="batch",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="cells",
                to="generations.batch",
            ),
        ),
    ]
