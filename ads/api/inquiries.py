"""``POST /api/v1/inquiries``: "Werbung auf diesem Portal?" for anyone, without a key.

The same checks as the portal's form and the same rate limit per sender; there is no form,
so no honeypot and no minimum fill time.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, permissions, serializers
from rest_framework.exceptions import Throttled

from promotions.models import Slot

from ..inquiries import InquiryRefused, Sender, check_inquiry_data, do_submit_inquiry
from ..models import Inquiry
from ..visitors import client_address
from .serializers import SlotKeyField


class InquirySerializer(serializers.ModelSerializer[Inquiry]):
    desired_slots = SlotKeyField(
        slug_field="key",
        queryset=Slot.objects.all(),
        many=True,
        required=False,
        help_text=_("Schlüssel der gewünschten Slots, z. B. „sidebar-top“."),
    )
    consent_to_contact = serializers.BooleanField(
        help_text=_("Muss true sein: ohne Einverständnis dürfen wir nicht antworten.")
    )

    class Meta:
        model = Inquiry
        fields = (
            "id",
            "company",
            "name",
            "email",
            "phone",
            "message",
            "budget",
            "desired_slots",
            "period_start",
            "period_end",
            "consent_to_contact",
            "created_at",
        )
        read_only_fields = ("id", "created_at")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            check_inquiry_data(attrs)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        return attrs


EXAMPLE = OpenApiExample(
    "Anfrage",
    request_only=True,
    value={
        "company": "Nordlicht Cloud GmbH",
        "name": "Jana Berger",
        "email": "jana.berger@nordlicht.example",
        "phone": "+49 40 1234567",
        "message": "Wir möchten im Herbst unsere KI-Plattform vorstellen.",
        "budget": "up_to_5k",
        "desired_slots": ["sidebar-top"],
        "period_start": "2026-09-01",
        "period_end": "2026-09-30",
        "consent_to_contact": True,
    },
)


@extend_schema(
    summary=_("Werbeanfrage stellen"),
    description=_(
        "Ohne Anmeldung. Höchstens einige Anfragen pro Absender und Stunde; "
        "danach 429 mit Retry-After."
    ),
    examples=[EXAMPLE],
)
class InquiryCreateView(generics.CreateAPIView[Inquiry]):
    serializer_class = InquirySerializer
    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)

    def perform_create(self, serializer: serializers.BaseSerializer[Inquiry]) -> None:
        data = dict(serializer.validated_data)
        slots = data.pop("desired_slots", [])
        sender = Sender(
            ip_address=client_address(self.request),
            user_agent=self.request.headers.get("User-Agent", ""),
        )
        try:
            serializer.instance = do_submit_inquiry(
                Inquiry(**data), slots=slots, sender=sender, guard=None, now=timezone.now()
            )
        except InquiryRefused as refused:
            raise Throttled(
                wait=refused.retry_after,
                detail=gettext("Zu viele Anfragen. Bitte versuchen Sie es später noch einmal."),
            ) from None
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
