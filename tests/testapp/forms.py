"""ModelForms for tests/test_framework_paths.py."""

from django import forms

from .models import Author, Book


class BookForm(forms.ModelForm):
    """A plain ModelForm: a foreign key, a nullable foreign key and a many-to-many."""

    class Meta:
        model = Book
        fields = ("title", "author", "editor", "tags")


class BookFormReadingAuthor(forms.ModelForm):
    """A ModelForm whose own ``clean()`` reads a relation of its instance.

    The form machinery (``django.forms``) calls ``clean()``, so the read is a framework
    access under the documented rule.
    """

    class Meta:
        model = Book
        fields = ("title",)

    def clean(self):  # type: ignore[no-untyped-def]
        cleaned = super().clean()
        if self.instance.author.name == cleaned.get("title"):
            raise forms.ValidationError("A book cannot be named after its author.")
        return cleaned


class AuthorForm(forms.ModelForm):
    """Foreign keys to the model itself and to another model."""

    class Meta:
        model = Author
        fields = ("name", "publisher", "mentor")
