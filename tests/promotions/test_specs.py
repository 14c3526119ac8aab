import pytest

from promotions.specs import InvalidSpec, parse_spec, parse_spec_list


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("fill-300x250", "fill-300x250|format-jpeg"),
        ("format-webp|fill-300x250", "fill-300x250|format-webp"),
        ("max-600x400|quality-80|format-avif", "max-600x400|format-avif|quality-80"),
        ("width-300", "width-300|format-jpeg"),
        ("height-200|format-png", "height-200|format-png"),
        ("FILL-300X250|Format-JPG", "fill-300x250|format-jpeg"),
    ],
)
def test_specs_parse_into_their_canonical_form(text, canonical):
    assert parse_spec(text).canonical == canonical


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "leer"),
        ("fill-300", "unbekannte Angabe"),
        ("crop-300x250", "unbekannte Angabe"),
        ("format-webp", "Größenangabe fehlt"),
        ("fill-300x250|max-100x100", "nur eine Größenangabe"),
        ("fill-0x250", "zwischen 1 und 4000"),
        ("width-99999", "zwischen 1 und 4000"),
        ("fill-300x250|format-gif", "genau ein Format"),
        ("fill-300x250|format-webp|format-png", "genau ein Format"),
        ("fill-300x250|quality-0", "Qualität"),
        ("fill-300x250|quality-101", "Qualität"),
        ("fill-300x250|quality-abc", "Qualität"),
        ("fill-300x250|quality-²", "Qualität"),
        ("fill-\u0663\u0660\u0660x250", "unbekannte Angabe"),  # Arabic-Indic digits
    ],
)
def test_invalid_specs_say_why(text, reason):
    with pytest.raises(InvalidSpec, match=reason):
        parse_spec(text)


def test_2x_doubles_the_box():
    assert parse_spec("fill-300x250|format-webp").scaled(2).canonical == (
        "fill-600x500|format-webp"
    )


def test_2x_keeps_a_single_side():
    assert parse_spec("width-300").scaled(2).canonical == "width-600|format-jpeg"


@pytest.mark.parametrize(
    ("text", "source", "expected"),
    [
        ("fill-300x250", (4000, 3000), (300, 250)),
        ("fill-300x250", (150, 1000), (150, 125)),
        ("max-600x400", (4000, 3000), (533, 400)),
        ("max-600x400", (300, 200), (300, 200)),
        ("width-300", (4000, 3000), (300, 225)),
        ("height-200", (4000, 3000), (267, 200)),
    ],
)
def test_target_size_never_upscales(text, source, expected):
    assert parse_spec(text).target_size(*source) == expected


def test_spec_list_keeps_its_order():
    specs = parse_spec_list("fill-1x1|format-avif,\n fill-1x1|format-jpeg")

    assert [spec.format for spec in specs] == ["avif", "jpeg"]


def test_empty_spec_list_is_invalid():
    with pytest.raises(InvalidSpec):
        parse_spec_list(" , ")
