using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Pacs.WriteBack;

namespace PaliGemma2.DocPipeline.Pacs.Tests;

/// <summary>Which destination an SR gets, from configuration as environment variables would give it.</summary>
public sealed class SrRouteTests
{
    private static SrSender Sender(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration);
        services.AddOptions<WriteBackOptions>().BindConfiguration(WriteBackOptions.Section);
        services.AddHttpClient();
        var provider = services.BuildServiceProvider();
        return new SrSender(provider.GetRequiredService<IHttpClientFactory>(), provider.GetRequiredService<IOptions<WriteBackOptions>>());
    }

    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Pacs:WriteBack:OrthancUrl"] = "http://orthanc:8042/",
        ["Pacs:WriteBack:Modality"] = "hospital-pacs",
        ["Pacs:WriteBack:DicomWebServers:pacs2:ApiKey"] = "key-of-pacs2",
        ["Pacs:WriteBack:DicomWebServers:pacs2:StowUrl"] = "http://pacs2/dicom-web/studies",
        ["Pacs:WriteBack:DicomWebServers:vna:ApiKey"] = "key-of-vna",
        ["Pacs:WriteBack:DicomWebServers:vna:StowUrl"] = "http://vna/dicomweb/studies",
    };

    [Theory]
    [InlineData("key-of-pacs2", "dicomweb:pacs2", "http://pacs2/dicom-web/studies")]
    [InlineData("key-of-vna", "dicomweb:vna", "http://vna/dicomweb/studies")]
    public async Task A_study_pushed_with_a_registered_key_goes_back_to_that_server(string key, string destination, string url)
    {
        var metadata = $$"""{"studyInstanceUid":"1.2.3","stowClientKey":"{{PacsMetadata.KeyFingerprint(key)}}"}""";
        var route = await Sender(Settings).RouteAsync("1.2.3.4", metadata, CancellationToken.None);
        Assert.Equal(destination, route.Destination);
        Assert.Equal(new Uri(url), route.Server?.StowUrl);
    }

    [Theory]
    [InlineData("""{"stowClientKey":"sha256:0000000000000000"}""")]   // pushed with a key no server is registered with
    [InlineData("""{"orthancInstanceId":"abc"}""")]                     // came through the change feed
    [InlineData(null)]
    public async Task Anything_else_goes_to_the_default_destination(string? metadata)
    {
        var route = await Sender(Settings).RouteAsync("1.2.3.4", metadata, CancellationToken.None);
        Assert.Equal("orthanc-modality:hospital-pacs", route.Destination);
        Assert.Null(route.Server);
    }

    [Fact]
    public void The_fingerprint_is_a_prefix_of_the_keys_sha256_not_the_key()
    {
        // sha256("key-of-pacs2") computed by coreutils' sha256sum, not by our code.
        var expected = "sha256:" + Sha256Sum("key-of-pacs2")[..16];
        Assert.Equal(expected, PacsMetadata.KeyFingerprint("key-of-pacs2"));
        Assert.DoesNotContain("key-of-pacs2", PacsMetadata.KeyFingerprint("key-of-pacs2"), StringComparison.Ordinal);
    }

    private static string Sha256Sum(string text)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("sha256sum") { RedirectStandardInput = true, RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        p.StandardInput.Write(text);
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output.Split(' ')[0];
    }
}
