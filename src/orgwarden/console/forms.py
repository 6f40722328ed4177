from django import forms


class OrgNameForm(forms.Form):
    name = forms.CharField(label="Organization name", max_length=100)


class InviteAdminForm(forms.Form):
    email = forms.EmailField(max_length=254)
