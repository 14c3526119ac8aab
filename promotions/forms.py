from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Image
from .uploads import CheckedImage, check_image_upload


class ImageForm(forms.ModelForm[Image]):
    """Admin form for images: the upload is checked completely before anything is stored."""

    upload = forms.FileField(
        label=_("Bilddatei"),
        required=False,
        help_text=_("JPEG, PNG, WebP, GIF oder AVIF; kein SVG."),
    )

    class Meta:
        model = Image
        fields = ("title", "focal_point_x", "focal_point_y")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked: CheckedImage | None = None
        if self.instance.pk is None:
            self.fields["upload"].required = True
        else:
            del self.fields["upload"]

    def clean_upload(self) -> Any:
        upload = self.cleaned_data.get("upload")
        if upload is None:
            return upload
        self.checked = check_image_upload(upload, size=upload.size)
        duplicate = Image.objects.filter(content_hash=self.checked.content_hash).first()
        if duplicate is not None:
            raise forms.ValidationError(
                _("Dieses Bild ist schon vorhanden: „%(image)s“ (Nr. %(id)d).")
                % {"image": duplicate, "id": duplicate.pk},
                code="duplicate",
            )
        return upload


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Begründung"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000,
        help_text=_("Die Werbetreibenden sehen diesen Text."),
    )
