using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Pacs.Orthanc;
using PaliGemma2.DocPipeline.Pacs.Sr;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Pacs.Tests;

public sealed class OrthancFilterTests : IDisposable
{
    private readonly string _dir = TestServices.NewTempDirectory("filter");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static OrthancChangeFeed Feed(Action<OrthancIntakeOptions> configure)
    {
        var options = new OrthancIntakeOptions();
        configure(options);
        return new OrthancChangeFeed(null!, null!, Options.Create(options), Options.Create(new WriteBackOptions()), TimeProvider.System, NullLogger<OrthancChangeFeed>.Instance);
    }

    private static Dictionary<string, object> Tags(string modality, string bodyPart, string sopClass) => new()
    {
        ["Modality"] = modality, ["BodyPartExamined"] = bodyPart, ["SOPClassUID"] = sopClass,
    };

    [Fact]
    public void Without_a_modality_filter_only_cr_and_dx_are_accepted()
    {
        using var feed = Feed(_ => { });
        Assert.True(feed.Accepts(Tags("CR", "", "1.2.840.10008.5.1.4.1.1.1"), out _));
        Assert.True(feed.Accepts(Tags("DX", "", "1.2.840.10008.5.1.4.1.1.1.1"), out _));
        Assert.False(feed.Accepts(Tags("SR", "", ReportSrWriter.BasicTextSrSopClass), out var reason));
        Assert.Contains("modality 'SR'", reason, StringComparison.Ordinal);
        Assert.False(feed.Accepts(Tags("CT", "", "1.2.3"), out _));
    }

    [Fact]
    public void A_star_accepts_every_modality()
    {
        using var feed = Feed(o => o.Modalities.Add("*"));
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

    [Fact]
    public async Task Our_own_sr_as_orthanc_describes_it_is_refused_even_when_every_modality_is_accepted()
    {
        using var feed = Feed(o => o.Modalities.Add("*"));
        var ours = await OrthancTagsOfSrAsync(new WriteBackOptions().Manufacturer);
        Assert.False(feed.Accepts(ours, out var reason));
        Assert.Contains("DocPipeline wrote", reason, StringComparison.Ordinal);

        // Another vendor's SR is not ours: with every modality accepted it goes on to intake.
        var theirs = await OrthancTagsOfSrAsync("Another Vendor");
        Assert.True(feed.Accepts(theirs, out reason), reason);
    }

    // Uploads an SR we build to the test Orthanc and reads back Orthanc's simplified tags of it.
    private async Task<IReadOnlyDictionary<string, object>> OrthancTagsOfSrAsync(string manufacturer)
    {
        var source = await Dcmtk.MakeDxAsync(_dir, $"dx-{Guid.NewGuid():N}.dcm", newUids: true);
        var sr = ReportSrWriter.Write(new ReportSrRequest
        {
            SourcePath = source,
            SeriesInstanceUid = ReportSrWriter.NewUid(),
            SopInstanceUid = ReportSrWriter.NewUid(),
            Findings = "Clear lungs.",
            Impression = "Normal.",
            Manufacturer = manufacturer,
            ModelName = "demo-toy-paligemma2-report",
            SoftwareVersion = "0.1.0-demo",
            CreatedAt = DateTimeOffset.UtcNow,
        });
        using var http = new HttpClient();
        var client = new OrthancClient(http, TestServices.Orthanc, null, null);
        var id = await client.UploadAsync(sr, CancellationToken.None);
        try
        {
            return await client.GetSimplifiedTagsAsync(id, CancellationToken.None);
        }
        finally
        {
            await client.DeleteInstanceAsync(id, CancellationToken.None);
        }
    }
}
