using System.Text.Json;
using System.Xml.Linq;

namespace PaliGemma2.DocPipeline.EndToEnd.Deploy;

/// <summary>
/// Each role's host carries only what it runs (issue 13): read from the dependency manifests (<c>*.deps.json</c>) the
/// SDK wrote for the built hosts, which list every package and project the host loads from and which publishing copies.
/// </summary>
public sealed class RoleSplitTests
{
    // The libraries of the host's deps.json ("name/version" keys), by name.
    private static HashSet<string> Libraries(string project, string assembly)
    {
        var deps = Path.ChangeExtension(ServiceProcess.Dll(project, assembly), ".deps.json");
        using var json = JsonDocument.Parse(File.ReadAllText(deps));
        return json.RootElement.GetProperty("libraries").EnumerateObject().Select(l => l.Name.Split('/')[0]).ToHashSet(StringComparer.Ordinal);
    }

    [Theory]
    [InlineData("Api", "PaliGemma2.DocPipeline.Api")]
    [InlineData("Worker", "PaliGemma2.DocPipeline.Worker")]
    public void Hosts_that_run_no_model_do_not_depend_on_ONNX_Runtime(string project, string assembly)
    {
        var libraries = Libraries(project, assembly);
        Assert.Contains("PaliGemma2.DocPipeline.Pipeline", libraries);
        // The name the inference host's check below looks for: both prepare documents in the decoder sandbox.
        Assert.Contains("docpipe-decode", libraries);
        Assert.DoesNotContain(libraries, l => l.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.Ordinal));
        Assert.DoesNotContain("PaliGemma2.DocPipeline.Inference", libraries);
    }

    [Fact]
    public void The_inference_host_carries_ONNX_Runtime_but_neither_the_PACS_integration_nor_the_decoder_sandbox()
    {
        var libraries = Libraries("InferenceWorker", "PaliGemma2.DocPipeline.InferenceWorker");
        Assert.Contains("PaliGemma2.DocPipeline.Inference", libraries);
        Assert.Contains(libraries, l => l.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.Ordinal));
        Assert.DoesNotContain("PaliGemma2.DocPipeline.Pacs", libraries);
        // src/Sandbox's assembly name.
        Assert.DoesNotContain("docpipe-decode", libraries);
    }

    [Theory]
    [InlineData("Worker", "PaliGemma2.DocPipeline.Worker", "infer", "PaliGemma2.DocPipeline.InferenceWorker")]
    [InlineData("Worker", "PaliGemma2.DocPipeline.Worker", "prepare,infer", "PaliGemma2.DocPipeline.InferenceWorker")]
    [InlineData("InferenceWorker", "PaliGemma2.DocPipeline.InferenceWorker", "prepare", "PaliGemma2.DocPipeline.Worker")]
    [InlineData("Api", "PaliGemma2.DocPipeline.Api", "api,infer", "PaliGemma2.DocPipeline.InferenceWorker")]
    public async Task A_host_given_a_role_it_does_not_carry_stops_at_start_naming_the_host_that_runs_it(string project, string assembly, string roles, string other)
    {
        // Refused before anything connects: no broker or database is needed.
        await using var host = ServiceProcess.Start(ServiceProcess.Dll(project, assembly), new Dictionary<string, string>
        {
            ["Roles"] = roles,
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
        });
        var exit = await host.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit != 0, host.Output);
        Assert.Contains($"does not run in {assembly}", host.Output, StringComparison.Ordinal);
        Assert.Contains($"start {other}", host.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_pipeline_library_does_not_reference_the_inference_library()
    {
        var project = XDocument.Load(DeployTools.RepoPath("src", "Pipeline", "Pipeline.csproj"));
        var references = project.Descendants("ProjectReference").Select(r => Path.GetFileName(r.Attribute("Include")!.Value.Replace('\\', '/'))).ToList();
        Assert.Contains("Storage.csproj", references);
        Assert.DoesNotContain("Inference.csproj", references);
    }
}
