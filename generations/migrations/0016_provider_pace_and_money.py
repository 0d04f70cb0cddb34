from datetime import UTC, datetime
from decimal import Decimal

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.models import Case, Value, When

from generations.domain import UPSTREAM_LIST_PRICE


# The queue's fair order: which waiting generation goes next when the provider has a free turn. Single prompts (the
# form, the API, a retry) go before batch cells; within each, people take turns. A person's waiting requests are
# numbered 1, 2, 3... after the turns they had in the last minute, and the lowest number goes first (the older
# among equals): a colleague's first cell goes before the next of someone who just had three turns. A person is a
# user, or on an open instance a browser session. Generations waiting out a 429 keep their place (the pace skips
# them until then).
WAITING_TURNS = """
CREATE VIEW generations_waiting_turns AS
WITH recent_turns AS (
    SELECT coalesce(g.user_id::text, g.maker_session) AS person, count(*) AS turns
      FROM generations_providerturn AS t
      JOIN generations_generation AS g ON g.id = t.generation_id
     WHERE t.granted_at > now() - interval '61 seconds'
     GROUP BY 1
), waiting AS (
    SELECT id, batch_id, next_try_at, coalesce(user_id::text, maker_session) AS person,
           row_number() OVER (
               PARTITION BY batch_id IS NOT NULL, coalesce(user_id::text, maker_session) ORDER BY id
           ) AS person_turn
      FROM generations_generation
     WHERE status = 'queued' AND dispatched_at IS NULL
)
SELECT waiting.id, waiting.batch_id IS NOT NULL AS is_batch_cell, waiting.next_try_at,
       row_number() OVER (
           ORDER BY waiting.batch_id IS NOT NULL, waiting.person_turn + coalesce(recent_turns.turns, 0), waiting.id
       ) AS turn
  FROM waiting LEFT JOIN recent_turns USING (person);
"""

# Everything the limits of one request are checked against, in one round trip, with the locks that make them hold
# under simultaneous requests until the transaction commits (generations/services/limits.py). It runs after the
# request's own rows are written, so they are counted.
LIMIT_COUNTS = """
CREATE FUNCTION generations_limit_counts(
    requester_id bigint,         -- a signed-in user; NULL for a visitor of an open instance
    visitor_session text,        -- a visitor's browser session (the maker session of what they queued)
    visitor_address inet,        -- a visitor's client address, when known
    minute_since timestamptz,    -- the rolling windows of LIMIT_PER_MINUTE and LIMIT_PER_DAY
    day_since timestamptz,
    today_since timestamptz,     -- midnight (UTC) today and the first of this month: the budgets' periods
    month_since timestamptz
) RETURNS TABLE (
    unfinished bigint, in_minute bigint, in_day bigint,
    spent_today numeric, spent_this_month numeric, budget_per_day numeric, budget_per_month numeric,
    team_spent_this_month numeric, queued bigint
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    -- Two spaces of advisory locks, pg_advisory_xact_lock(space, key): a person's (the key a hash of who they
    -- are) and the queue's (key 0). 'zper' and 'zimg' in ASCII.
    person_locks CONSTANT integer := 2054186354;
    queue_lock CONSTANT integer := 2053729639;
    person text;
BEGIN
    -- 1. The person, so that two of their requests cannot both take their last allowed image: a user by id, a
    --    visitor by browser session and by address (clearing cookies keeps the address). Locks are taken in the
    --    order of their keys, so that visitors sharing an address never wait for each other in a circle.
    FOR person IN
        SELECT key FROM unnest(ARRAY[
            'user:' || requester_id,
            CASE WHEN requester_id IS NULL THEN 'session:' || nullif(visitor_session, '') END,
            CASE WHEN requester_id IS NULL THEN 'address:' || host(visitor_address) END
        ]) AS key
         WHERE key IS NOT NULL
         ORDER BY hashtext(key)
    LOOP
        PERFORM pg_advisory_xact_lock(person_locks, hashtext(person));
    END LOOP;

    -- 2. Their rows, this request's included: unfinished work, images within the rolling windows, and the money
    --    spent today and this month (calendar days and months, UTC; what was not billed costs 0). A user's rows,
    --    or a visitor's (those of the session and those of the address), each branch on an index of its own.
    SELECT count(*) FILTER (WHERE mine.status IN ('queued', 'running')),
           count(*) FILTER (WHERE mine.created_at > minute_since),
           count(*) FILTER (WHERE mine.created_at > day_since),
           coalesce(sum(mine.cost) FILTER (WHERE mine.created_at >= today_since), 0),
           coalesce(sum(mine.cost) FILTER (WHERE mine.created_at >= month_since), 0)
      INTO unfinished, in_minute, in_day, spent_today, spent_this_month
      FROM (SELECT g.status, g.created_at, g.cost
              FROM generations_generation AS g
             WHERE g.user_id = requester_id AND g.created_at > least(day_since, month_since)
            UNION ALL
            SELECT g.status, g.created_at, g.cost
              FROM generations_generation AS g
             WHERE requester_id IS NULL AND g.user_id IS NULL AND g.created_at > least(day_since, month_since)
               AND (g.maker_session = nullif(visitor_session, '') OR g.client_address = visitor_address)
           ) AS mine;

    -- Staff may have set the person's own budgets (none: NULL, the settings' then apply).
    SELECT b.per_day, b.per_month INTO budget_per_day, budget_per_month
      FROM generations_personbudget AS b
     WHERE b.user_id = requester_id;

    -- 3. The queue's lock, then what every request adds to, each read in a statement of its own after the lock so
    --    that it sees what the lock's last holder committed: the team's spend this month, the queue's depth.
    PERFORM pg_advisory_xact_lock(queue_lock, 0);
    SELECT coalesce(sum(s.amount), 0) INTO team_spent_this_month
      FROM generations_dailyspend AS s
     WHERE s.day >= (month_since AT TIME ZONE 'UTC')::date;
    SELECT count(*) INTO queued FROM generations_generation WHERE status = 'queued';
    RETURN NEXT;
END;
$$;
"""

# The team's spend per day (generations_dailyspend), kept by the database itself: each statement that inserts,
# deletes or changes the cost of generations adds the difference to the days they were queued on (UTC). One
# upsert per statement and day, and none when no cost changed (most updates: a status, a thumbnail).
COUNT_SPEND = """
CREATE FUNCTION generations_count_spend() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Each branch names only the transition tables its kind of statement has.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO generations_dailyspend AS spend (day, amount)
        SELECT (created_at AT TIME ZONE 'UTC')::date, sum(cost) FROM new_rows GROUP BY 1 HAVING sum(cost) <> 0
            ON CONFLICT (day) DO UPDATE SET amount = spend.amount + excluded.amount;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO generations_dailyspend AS spend (day, amount)
        SELECT (created_at AT TIME ZONE 'UTC')::date, -sum(cost) FROM old_rows GROUP BY 1 HAVING sum(cost) <> 0
            ON CONFLICT (day) DO UPDATE SET amount = spend.amount + excluded.amount;
    ELSE
        INSERT INTO generations_dailyspend AS spend (day, amount)
        SELECT (n.created_at AT TIME ZONE 'UTC')::date, sum(n.cost - o.cost)
          FROM new_rows AS n JOIN old_rows AS o USING (id)
         WHERE n.cost <> o.cost
         GROUP BY 1
            ON CONFLICT (day) DO UPDATE SET amount = spend.amount + excluded.amount;
    END IF;
    RETURN NULL;
END;
$$;
"""


def first_price_and_past_costs(apps, schema_editor) -> None:
    """The price table starts with the upstream list price, in effect since before the first generation; the
    generations made before it get that price (demo images cost nothing), and the trigger counts them."""
    Price = apps.get_model("generations", "Price")
    Generation = apps.get_model("generations", "Generation")
    Price.objects.create(
        effective_from=datetime(2000, 1, 1, tzinfo=UTC),
        per_image=UPSTREAM_LIST_PRICE.per_image,
        prompt_extend_extra=UPSTREAM_LIST_PRICE.prompt_extend_extra,
        note="The upstream list price (Alibaba Model Studio, international): an estimate.",
    )
    Generation.objects.filter(is_demo=False).update(
        price=Case(
            When(
                prompt_extend=True,
                then=Value(UPSTREAM_LIST_PRICE.per_image + UPSTREAM_LIST_PRICE.prompt_extend_extra),
            ),
            default=Value(UPSTREAM_LIST_PRICE.per_image),
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0015_api_calls"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DailySpend",
            fields=[
                ("day", models.DateField(primary_key=True, serialize=False)),
                ("amount", models.DecimalField(decimal_places=6, default=Decimal("0"), max_digits=12)),
            ],
        ),
        migrations.CreateModel(
            name="PersonBudget",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "per_day",
                    models.DecimalField(
                        blank=True,
                        decimal_places=6,
                        help_text="Blank: BUDGET_USER_DAY; 0: none.",
                        max_digits=12,
                        null=True,
                    ),
                ),
                (
                    "per_month",
                    models.DecimalField(
                        blank=True,
                        decimal_places=6,
                        help_text="Blank: BUDGET_USER_MONTH; 0: none.",
                        max_digits=12,
                        null=True,
                    ),
                ),
                ("note", models.CharField(blank=True, max_length=200)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.CreateModel(
            name="Price",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("effective_from", models.DateTimeField(default=django.utils.timezone.now)),
                ("per_image", models.DecimalField(decimal_places=6, max_digits=12)),
                (
                    "prompt_extend_extra",
                    models.DecimalField(
                        decimal_places=6, help_text="Added for an image with prompt extend.", max_digits=12
                    ),
                ),
                (
                    "note",
                    models.CharField(blank=True, help_text="Where the price comes from.", max_length=200),
                ),
            ],
            options={
                "ordering": ["-effective_from"],
            },
        ),
        migrations.CreateModel(
            name="ProviderPace",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("concurrency", models.PositiveIntegerField()),
                ("per_minute", models.PositiveIntegerField()),
                ("configured_concurrency", models.PositiveIntegerField()),
                ("configured_per_minute", models.PositiveIntegerField()),
                (
                    "held_until",
                    models.DateTimeField(
                        blank=True, help_text="No request before this (a 429's reset).", null=True
                    ),
                ),
                (
                    "successes",
                    models.PositiveIntegerField(default=0, help_text="Answers in a row without a 429."),
                ),
                (
                    "typical_latency_ms",
                    models.PositiveIntegerField(default=2000, help_text="A moving average, for estimates."),
                ),
                (
                    "rate_limited_total",
                    models.BigIntegerField(default=0, help_text="429s the provider answered."),
                ),
                (
                    "rate_limit_wait_s_total",
                    models.FloatField(
                        default=0.0, help_text="Seconds generations were told to wait by 429s."
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ProviderTurn",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("granted_at", models.DateTimeField()),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                ("ended_at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.RemoveIndex(
            model_name="generation",
            name="generation_user_recent_idx",
        ),
        migrations.AddField(
            model_name="generation",
            name="client_address",
            field=models.GenericIPAddressField(
                blank=True,
                help_text="On an open instance, the address of the visitor who asked for it.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="generation",
            name="price",
            field=models.DecimalField(
                decimal_places=6,
                default=Decimal("0"),
                help_text="What it costs if billed, by the price in effect when it was queued.",
                max_digits=12,
            ),
        ),
        migrations.AddField(
            model_name="generation",
            name="dispatched_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When its turn at the provider came (a worker's job was queued for it).",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="generation",
            name="may_be_billed",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.ExpressionWrapper(
                    models.Q(
                        ("status", "interrupted"),
                        models.Q(("started_at__isnull", False), ("status", "cancelled")),
                        models.Q(
                            ("error_code__in", ["internal_error", "provider_timeout"]), ("status", "failed")
                        ),
                        _connector="OR",
                    ),
                    output_field=models.BooleanField(),
                ),
                output_field=models.BooleanField(),
            ),
        ),
        migrations.AddField(
            model_name="generation",
            name="next_try_at",
            field=models.DateTimeField(
                blank=True, help_text="After the provider's 429: not sent again before this.", null=True
            ),
        ),
        migrations.AddField(
            model_name="generation",
            name="rate_limit_waits",
            field=models.PositiveSmallIntegerField(
                default=0,
                help_text="How often the provider's rate limit sent it back to wait (none of it billed).",
            ),
        ),
        migrations.AddField(
            model_name="generation",
            name="request_id",
            field=models.CharField(
                blank=True,
                help_text="The request that queued it, named in the worker's log lines.",
                max_length=64,
            ),
        ),
        migrations.AddField(
            model_name="generation",
            name="cost",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Case(
                    models.When(
                        models.Q(
                            models.Q(
                                ("status", "failed"),
                                models.Q(
                                    (
                                        "error_code__in",
                                        [
                                            "bad_response",
                                            "image_download_failed",
                                            "image_too_large",
                                            "internal_error",
                                            "not_an_image",
                                            "provider_timeout",
                                        ],
                                    ),
                                    _negated=True,
                                ),
                            ),
                            models.Q(("started_at__isnull", True), ("status", "cancelled")),
                            _connector="OR",
                        ),
                        then=models.Value(Decimal("0")),
                    ),
                    default=models.F("price"),
                ),
                output_field=models.DecimalField(decimal_places=6, max_digits=12),
            ),
        ),
        migrations.AddIndex(
            model_name="generation",
            index=models.Index(
                condition=models.Q(("dispatched_at__isnull", True), ("status", "queued")),
                fields=["id"],
                name="generation_waiting_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="generation",
            index=models.Index(
                fields=["user", "-created_at"], include=("cost",), name="generation_user_recent_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="generation",
            index=models.Index(
                condition=models.Q(("user__isnull", True)),
                fields=["maker_session", "created_at"],
                include=("cost",),
                name="generation_visitor_session_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="generation",
            index=models.Index(
                condition=models.Q(("user__isnull", True)),
                fields=["client_address", "created_at"],
                include=("cost",),
                name="generation_visitor_address_idx",
            ),
        ),
        migrations.AddField(
            model_name="personbudget",
            name="user",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="budget",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="providerturn",
            name="generation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="provider_turns",
                to="generations.generation",
            ),
        ),
        migrations.AddIndex(
            model_name="providerturn",
            index=models.Index(
                condition=models.Q(("ended_at__isnull", True)),
                fields=["generation"],
                name="provider_turn_open_idx",
            ),
        ),
        migrations.RunSQL(WAITING_TURNS, "DROP VIEW generations_waiting_turns"),
        migrations.RunSQL(
            LIMIT_COUNTS,
            "DROP FUNCTION generations_limit_counts(bigint, text, inet, timestamptz, timestamptz, timestamptz, timestamptz)",
        ),
        migrations.RunSQL(
            COUNT_SPEND
            + """
            CREATE TRIGGER generations_spend_insert AFTER INSERT ON generations_generation
                REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION generations_count_spend();
            CREATE TRIGGER generations_spend_update AFTER UPDATE ON generations_generation
                REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                FOR EACH STATEMENT EXECUTE FUNCTION generations_count_spend();
            CREATE TRIGGER generations_spend_delete AFTER DELETE ON generations_generation
                REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION generations_count_spend();
            """,
            """
            DROP TRIGGER generations_spend_insert ON generations_generation;
            DROP TRIGGER generations_spend_update ON generations_generation;
            DROP TRIGGER generations_spend_delete ON generations_generation;
            DROP FUNCTION generations_count_spend();
            """,
        ),
        migrations.RunPython(first_price_and_past_costs, migrations.RunPython.noop),
    ]
