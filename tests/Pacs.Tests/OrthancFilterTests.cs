using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Pacs.Orthanc;

namespace PaliGemma2.DocPipeline.Pacs.Tests;

public sealed class OrthancFilterTests
{
    private static OrthancChangeFeed Feed(Action<OrthancIntakeOptions> configure)
    {
        var options = new OrthancIntakeOptions();
        configure(options);
        return new OrthancChangeFeed(null!, null!, Options.Create(options), TimeProvider.System, NullLogger<OrthancChangeFeed>.Instance);
    }

    private static Dictionary<string, object> Tags(string modality, string bodyPart, string sopClass) => new()
    {
        ["Modality"] = modality, ["BodyPartExamined"] = bodyPart, ["SOPClassUID"] = sopClass,
    };

    [Fact]
    public void No_filters_accept_everything()
    {
        using var feed = Feed(_ => { });
        Assert.True(feed.Accepts(Tags("CT", "", "1.2.3"), out _));
    }

    [Fact]
    public void Modality_body_part_and_sop_class_filters_all_apply()
    {
        using var feed = Feed(o =>
        {
            o.Modalities.Add("CR");
            o.Modalities.Add("DX");
            o.BodyParts.Add("CHEST");
            o.SopClasses.Add("1.2.840.10008.5.1.4.1.1.1.1");
        });
        Assert.True(feed.Accepts(Tags("dx", "chest", "1.2.840.10008.5.1.4.1.1.1.1"), out _));
        Assert.False(feed.Accepts(Tags("SR", "CHEST", "1.2.840.10008.5.1.4.1.1.1.1"), out var reason));
        Assert.Contains("modality", reason, StringComparison.Ordinal);
        Assert.False(feed.Accepts(Tags("DX", "HAND", "1.2.840.10008.5.1.4.1.1.1.1"), out reason));
        Assert.Contains("body part", reason, StringComparison.Ordinal);
        Assert.False(feed.Accepts(Tags("DX", "CHEST", "1.2.840.10008.5.1.4.1.1.4"), out reason));
        Assert.Contains("SOP class", reason, StringComparison.Ordinal);
        Assert.False(feed.Accepts(new Dictionary<string, object>(), out _));
    }
}
