using System.Text;

namespace PaliGemma2.DocPipeline.Storage.Tests;

public sealed class StorableTextTests
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    // A [Fact] over built strings: xUnit's theory-data serialisation would itself mangle lone surrogates.
    [Fact]
    public void Unstorable_characters_become_the_replacement_character()
    {
        var cases = new (string Input, string Expected)[]
        {
            ("a\0b", "a\uFFFDb"),
            (new string(['\ud800', 'x']), "\uFFFDx"),          // lone high surrogate
            (new string(['x', '\udc00']), "x\uFFFD"),          // lone low surrogate
            ("\ud83d\ude00 ok", "\ud83d\ude00 ok"),            // a pair stays
            (new string(['y', '\ud83d']), "y\uFFFD"),          // pair cut at the end
        };
        foreach (var (input, expected) in cases)
        {
            var sanitized = StorableText.Sanitize(input);
            Assert.Equal(expected, sanitized);
            Assert.DoesNotContain('\0', sanitized);
            // The strict encoder (what the database drivers use) accepts the result.
            Assert.Equal(sanitized, Strict.GetString(Strict.GetBytes(sanitized)));
        }

        Assert.Throws<EncoderFallbackException>(() => Strict.GetBytes(new string(['x', '\udc00'])));
    }

    [Fact]
    public void Storable_text_is_returned_as_is()
    {
        const string text = "<table><tr><td>é ✓ \ud83d\ude00</td></tr></table>";
        Assert.Same(text, StorableText.Sanitize(text));
    }
}
